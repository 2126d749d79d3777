// Which media types are worth compressing, and which are already compressed. Decided on the bare
// media type (`application/json`, lowercased, parameters dropped): `Content-Type` parameters such as
// `charset` never change the answer.

/** `'application/json; charset=utf-8'` -> `'application/json'`; `''` when absent or not a string. */
export function mediaType(contentType: unknown): string {
  if (typeof contentType !== 'string') return ''
  const semicolon = contentType.indexOf(';')
  const type = semicolon === -1 ? contentType : contentType.slice(0, semicolon)
  return type.trim().toLowerCase()
}

// Text and structured text compress 3 to 8 times (docs/compression.md). `text/event-stream` is text
// but must reach the client event by event, so it is excluded (and skipped, see skip-rules.ts).
// `application/octet-stream` is left out on purpose, unlike @fastify/compress's default: it is what
// Fastify sends for a Buffer without a type, and such bodies are as often archives or images as
// anything else, so compressing them spends CPU for nothing more often than not.
const COMPRESSIBLE =
  /^(?:text\/(?!event-stream$).+|[a-z0-9.+-]+\/(?:[a-z0-9.-]+\+)?(?:json|xml|text|(?:x-)?yaml)|application\/(?:javascript|ecmascript|x-javascript|wasm|x-ndjson|graphql|x-www-form-urlencoded|vnd\.ms-fontobject|x-sh|x-httpd-php|rtf)|image\/(?:svg\+xml|bmp|x-ms-bmp|x-icon|vnd\.microsoft\.icon)|font\/(?:ttf|otf|sfnt|collection))$/

/**
 * Whether a body of this media type is worth compressing: text, JSON, XML, JavaScript, SVG,
 * uncompressed fonts and bitmaps. Used as `@fastify/compress`'s `customTypes` and to decide whether
 * a response that went out uncompressed still varies on `Accept-Encoding`.
 */
export function isCompressibleType(type: string): boolean {
  return COMPRESSIBLE.test(type)
}

// Formats whose bytes are already compressed: compressing them again costs CPU and saves 0 to 2 %.
// Images except SVG and uncompressed bitmaps (BMP, ICO), all video and audio (WAV saves ~10 %, not
// worth a per-response cost), WOFF and WOFF2 fonts (zlib and brotli inside, RFC 8081 §4), archives,
// the zip-based document formats (RFC 6839 §3.6 `+zip`, OOXML, ODF, EPUB, JAR), and PDF, whose
// content streams are Flate-compressed by practically every producer.
const ALREADY_COMPRESSED =
  /^(?:image\/(?!svg\+xml$|bmp$|x-ms-bmp$|x-icon$|vnd\.microsoft\.icon$).+|video\/.+|audio\/.+|font\/woff2?|application\/(?:font-woff2?|x-font-woff|zip|x-zip-compressed|gzip|x-gzip|x-bzip2?|x-xz|x-lzma|x-lzip|x-compress|x-7z-compressed|x-rar-compressed|vnd\.rar|zstd|x-zstd|x-brotli|java-archive|x-apple-diskimage|vnd\.android\.package-archive|vnd\.openxmlformats-officedocument\..+|vnd\.oasis\.opendocument\..+|pdf|[a-z0-9.-]+\+zip))$/

/** Whether a body of this media type is already compressed (see the list above). */
export function isAlreadyCompressedType(type: string): boolean {
  return ALREADY_COMPRESSED.test(type)
}
