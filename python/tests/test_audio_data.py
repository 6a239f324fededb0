"""--data with WAV clips for an audio pipeline: the features are the ones the shipped audio-digits pipeline was
trained on (its own metric classifier recognises spoken digits made with espeak-ng from them), a folder of clips
becomes latents through the pipeline's VAE, a distillation runs on it, and bad files are named."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import wave

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

from ld_surgeon_distill.audio import read_wav, wav_features  # noqa: E402
from ld_surgeon_distill.data import load_dir  # noqa: E402
from ld_surgeon_distill.onnx_import import OnnxModule  # noqa: E402
from ld_surgeon_distill.pipeline import Pipeline, PipelineError  # noqa: E402

AUDIO = os.path.join(fixtures.REPO, "examples", "audio-digits")
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ESPEAK = shutil.which("espeak-ng")


def write_pcm(path, y, rate, width=2, channels=1):
    y = np.clip(np.asarray(y, dtype=np.float64), -1, 1 - 1e-9)
    if width == 1:
        raw = (y * 128 + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = (y * 32768).astype("<i2").tobytes()
    elif width == 3:
        v = (y * (1 << 23)).astype(np.int32)
        raw = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], axis=1).astype(np.uint8).tobytes()
    else:
        raw = (y * float(1 << 31)).astype("<i4").tobytes()
    if channels == 2:  # the same signal on both channels, interleaved
        raw = b"".join(raw[i:i + width] * 2 for i in range(0, len(raw), width))
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)


@unittest.skipUnless(ESPEAK, "needs espeak-ng")
class SpokenDigitsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ldsd-audio-")
        cls.clips = os.path.join(cls.tmp, "clips")
        os.makedirs(cls.clips)
        for d, word in enumerate(WORDS):  # espeak-ng writes 22,050 Hz: resampled like the training data was
            subprocess.run([ESPEAK, "-v", "en-us", "-w", os.path.join(cls.clips, f"{d}-{word}.wav"), word], check=True,
                           capture_output=True)
        cls.pipeline = Pipeline(AUDIO)
        cls.mel = cls.pipeline.mel_params()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_the_pipelines_own_classifier_hears_the_digits_in_the_features(self):
        feats = np.stack([wav_features(os.path.join(self.clips, f"{d}-{w}.wav"), self.mel) for d, w in enumerate(WORDS)])
        self.assertEqual(feats.shape, (10, 1, 64, 64))
        self.assertTrue(-1 <= feats.min() and feats.max() <= 1)
        classifier = OnnxModule(os.path.join(AUDIO, "metrics", "classifier.onnx"), trainable=False).eval()
        with torch.no_grad():
            logits = classifier.run({classifier.input_names[0]: torch.from_numpy(feats)})["logits"]
        predicted = logits.argmax(1).tolist()
        print(f"\nespeak-ng digits heard as {predicted}")
        self.assertGreaterEqual(sum(p == d for d, p in enumerate(predicted)), 8, predicted)

    def test_a_folder_of_clips_becomes_latents_and_trains_a_student(self):
        data = load_dir(self.clips, self.pipeline, None, [4, 16, 16], self.pipeline.scaling_factor(), torch.device("cpu"))
        self.assertEqual(tuple(data.x0.shape), (10, 4, 16, 16))
        root = os.path.join(self.tmp, "audio-digits")
        shutil.copytree(AUDIO, root)
        student = fixtures.make_student(root, scope="mid_block.attentions.0")
        run_dir = os.path.join(self.tmp, "run")
        rc, events, err = fixtures.distill("--student", student, "--teacher", root, "--data", self.clips, "--steps", "2",
                                           "--batch-size", "4", "--eval-samples", "4", "--eval-steps", "2",
                                           "--log-every", "1", "--no-export", "--threads", "1", "--run-dir", run_dir)
        self.assertEqual(rc, 0, err[-3000:])
        data_event = next(e for e in events if e["event"] == "data")
        self.assertEqual(data_event["samples"], 10)
        self.assertIn(self.clips, data_event["source"])
        self.assertEqual([e["step"] for e in events if e["event"] == "step"], [1, 2])


class WavReadingTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ldsd-wav-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_8_16_24_32_bit_and_stereo_read_as_the_same_signal(self):
        t = np.arange(1600) / 16000
        y = 0.5 * np.sin(2 * np.pi * 440 * t)
        for width, channels, tol in ((1, 1, 1 / 64), (2, 1, 1e-4), (3, 1, 1e-6), (4, 1, 1e-8), (2, 2, 1e-4)):
            path = os.path.join(self.tmp, f"w{width}c{channels}.wav")
            write_pcm(path, y, 16000, width, channels)
            got, rate = read_wav(path)
            self.assertEqual(rate, 16000)
            np.testing.assert_allclose(got, y, atol=tol, err_msg=f"{width * 8}-bit, {channels} channel(s)")

    def test_a_file_that_is_not_wav_is_named_in_the_error(self):
        path = os.path.join(self.tmp, "notes.wav")
        with open(path, "w") as f:
            f.write("not audio")
        with self.assertRaises(PipelineError) as e:
            read_wav(path)
        self.assertIn(path, str(e.exception))

    def test_a_mel_params_path_outside_the_pipeline_is_refused(self):
        root = os.path.join(self.tmp, "pipe")
        os.makedirs(root)
        with open(os.path.join(self.tmp, "mel.json"), "w") as f:
            json.dump({"sample_rate": 16000}, f)
        with open(os.path.join(root, "model_index.json"), "w") as f:
            json.dump({"ld_surgeon": {"mel_params": "../mel.json"}}, f)
        with self.assertRaises(PipelineError) as e:
            Pipeline(root).mel_params()
        self.assertIn("not a file inside the pipeline folder", str(e.exception))
