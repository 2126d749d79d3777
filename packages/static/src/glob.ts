// A small glob compiler for cache rules, so that the plugin needs no glob dependency. Rules are
// compiled once at registration into one RegExp each; matching a request is one `test()`.
//
// Syntax: `*` any characters except `/`; `**` as a whole segment, any number of segments; `?` one
// character except `/`; `{a,b}` alternatives (not nested); `[abc]`, `[a-z]`, `[!abc]` classes.
// A pattern without `/` matches the file name in any directory (`*.html`); a pattern with `/` is
// anchored at the root of the static directory (`/assets/**`, a leading `/` is optional).

const REGEX_SPECIALS = new Set(['.', '+', '^', '$', '(', ')', '|', '\\', '/'])

/** Thrown for a pattern that cannot be compiled; the caller turns it into a coded rule error. */
export class GlobSyntaxError extends Error {}

/** Compiles a glob into a RegExp tested against a path such as `/assets/app.js`. */
export function compileGlob(pattern: string): RegExp {
  if (pattern.length === 0) throw new GlobSyntaxError('the pattern is empty')
  const anchored = pattern.includes('/')
  const body = anchored ? (pattern.startsWith('/') ? pattern.slice(1) : pattern) : pattern
  const source = translate(body)
  return new RegExp(anchored ? `^/${source}$` : `(?:^|/)${source}$`)
}

function translate(glob: string): string {
  let out = ''
  let inBraces = false
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!
    if (char === '*') {
      if (glob[i + 1] === '*') {
        const segmentStart = i === 0 || glob[i - 1] === '/'
        const segmentEnd = i + 2 === glob.length || glob[i + 2] === '/'
        if (!segmentStart || !segmentEnd) throw new GlobSyntaxError('`**` must be a whole path segment')
        if (glob[i + 2] === '/') {
          // `**/` matches zero or more whole segments.
          out += '(?:[^/]+/)*'
          i += 2
        } else {
          out += '.*'
          i += 1
        }
      } else {
        out += '[^/]*'
      }
    } else if (char === '?') {
      out += '[^/]'
    } else if (char === '[') {
      const end = glob.indexOf(']', i + 2)
      if (end === -1) throw new GlobSyntaxError('unclosed `[`')
      let inner = glob.slice(i + 1, end)
      if (inner.startsWith('!')) inner = `^${inner.slice(1)}`
      out += `[${inner.replaceAll('\\', '\\\\').replaceAll('/', '')}]`
      i = end
    } else if (char === '{') {
      if (inBraces) throw new GlobSyntaxError('nested `{` is not supported')
      inBraces = true
      out += '(?:'
    } else if (char === '}' && inBraces) {
      inBraces = false
      out += ')'
    } else if (char === ',' && inBraces) {
      out += '|'
    } else if (REGEX_SPECIALS.has(char) || char === '{' || char === '}' || char === ']') {
      out += char === '/' ? '/' : `\\${char}`
    } else {
      out += char
    }
  }
  if (inBraces) throw new GlobSyntaxError('unclosed `{`')
  return out
}
