// The XML layer's public surface. Only src/xml/ touches ltx's parser; everything else gets events
// and ltx Elements from here, and hands Elements back to be written.

export type { StreamEvent } from "./events.js";
export { DEFAULT_MAX_ATTRIBUTES, DEFAULT_MAX_NAMESPACE_DECLARATIONS, type ReaderLimits } from "./limits.js";
export { StreamReader, type StreamReaderOptions } from "./stream-reader.js";
export { FrameReader, type FrameReaderOptions, openFrame, headerToOpenFrame, closeFrame, frameElement } from "./framing.js";
export {
  streamHeader,
  streamClose,
  serialize,
  escapeText,
  escapeAttr,
  type StreamHeaderAttrs,
  type StreamHeaderOptions,
} from "./writer.js";
export * from "./namespaces.js";
