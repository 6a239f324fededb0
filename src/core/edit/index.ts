// Editing a model: edits in IR terms (bypass/replace a module, remove/rename a node, rename a value,
// set an attribute, set/clear a graph output, accept/reject suggested prunes), each checked before it
// is applied, and the EditableModel document with undo/redo and save.
export * from './types';
export { EditableModel, type EditableOptions } from './document';
export { applyEdit, attributeFromInput, type EditContext, type EditOutcome } from './operations';
export { checkEdited } from './checks';
export { editedPathFor, saveEdited, type SaveOptions, type SaveResult } from './save';
export { ModelWorker, WorkerDocument, ModelWorkerStopped, DEFAULT_REQUEST_TIMEOUT_MS, type ModelWorkerOptions } from './worker-client';
export type { CandidateBrief, DocState, OpenRequest, WorkerReply, WorkerRequest } from './worker-protocol';
