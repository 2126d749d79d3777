import type { DictionaryEncoding } from './codec.js'

// Choosing dcz or dcb for a request (RFC 9842 §6, RFC 9110 §12.5.3), and the rule of §9.3 on
// which responses a dictionary may touch at all.

/**
 * The dictionary coding to use for this `Accept-Encoding`, or `undefined`: the acceptable ones
 * (q above 0, not below an explicitly listed `identity`) among `offered`, highest q first, the
 * order of `offered` on a tie. Pass only codings this Node can encode (see `dictionarySupport`);
 * `['dcz', 'dcb']` is a good order (zstd decodes faster, sizes are within a few percent). `*` does not count: a coding that needs a dictionary the client must
 * name is never sent on a wildcard. A malformed q-value drops its element.
 *
 * @example
 * chooseDictionaryEncoding('gzip, br, zstd, dcb, dcz', ['dcz', 'dcb']) // 'dcz'
 * chooseDictionaryEncoding('dcz;q=0.5, dcb', ['dcz', 'dcb'])          // 'dcb'
 */
export function chooseDictionaryEncoding(
  acceptEncoding: string | undefined,
  offered: readonly DictionaryEncoding[],
): DictionaryEncoding | undefined {
  if (acceptEncoding === undefined || offered.length === 0) return undefined
  let best: DictionaryEncoding | undefined
  let bestWeight = 0
  let identity = 0
  const weights: Partial<Record<DictionaryEncoding, number>> = {}
  for (const element of acceptEncoding.split(',')) {
    const [rawName = '', ...params] = element.split(';')
    const name = rawName.trim().toLowerCase()
    if (name !== 'dcb' && name !== 'dcz' && name !== 'identity') continue
    let weight = 1
    for (const param of params) {
      const [key = '', value = ''] = param.split('=')
      if (key.trim().toLowerCase() === 'q') weight = parseQValue(value.trim())
    }
    if (Number.isNaN(weight)) continue
    if (name === 'identity') identity = Math.max(identity, weight)
    else weights[name] = Math.max(weight, weights[name] ?? 0)
  }
  for (const encoding of offered) {
    const weight = weights[encoding] ?? 0
    if (weight > 0 && weight >= identity && weight > bestWeight) {
      best = encoding
      bestWeight = weight
    }
  }
  return best
}

/** RFC 9110 §12.4.2: `0`, `0.5`, `1`, `1.000`; anything else is NaN. */
function parseQValue(value: string): number {
  if (!/^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(value)) return Number.NaN
  return Number(value)
}

/** The request fields {@link dictionaryReadable} looks at (Node's lower-case header object fits). */
export interface DictionaryRequestFields {
  readonly 'sec-fetch-site'?: string | readonly string[] | undefined
  readonly 'sec-fetch-mode'?: string | readonly string[] | undefined
  readonly origin?: string | readonly string[] | undefined
}

/**
 * RFC 9842 §9.3 (server side): may this response be used as a dictionary, or be compressed with
 * one? Compressing with a dictionary lets a page that can read sizes learn the content of a
 * response it could not read, so only readable responses qualify:
 *
 * - `Sec-Fetch-Site: same-origin` (the RFC's server-side test for a same-origin request): yes,
 *   whatever the mode. A page's own classic `<script src>` or `<link rel=stylesheet>` is a
 *   `no-cors` request (Chromium sends `Sec-Fetch-Mode: no-cors` with it, test/browser), and its
 *   response is fully readable to the page;
 * - no `Sec-Fetch-Mode` (not a browser, or an old one): yes, as the RFC says;
 * - `navigate`, `same-origin`: yes;
 * - `cors`: only with an `Origin` request field and an `Access-Control-Allow-Origin` response
 *   field that is `*` or that origin;
 * - anything else (a cross-origin `no-cors`, `websocket`...): no.
 *
 * @param allowOrigin the response's `Access-Control-Allow-Origin`, if any
 */
export function dictionaryReadable(
  request: DictionaryRequestFields,
  allowOrigin: string | undefined,
): boolean {
  if (request['sec-fetch-site'] === 'same-origin') return true
  const mode = request['sec-fetch-mode']
  if (mode === undefined) return true
  if (mode === 'navigate' || mode === 'same-origin') return true
  if (mode !== 'cors') return false
  const origin = request.origin
  if (typeof origin !== 'string' || allowOrigin === undefined) return false
  return allowOrigin === '*' || allowOrigin === origin
}
