// Files imported with a `?text` suffix arrive as their text (the text-import plugin in scripts/build.mjs).
declare module '*?text' {
  const text: string;
  export default text;
}
