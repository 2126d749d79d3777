// HTTP-date (RFC 9110 §5.6.7): the preferred IMF-fixdate and the two obsolete forms recipients
// must still accept. Anything else is invalid: `Date.parse` is far more lenient (it reads
// '2024-01-01', '0', 'tomorrow' in some engines), and RFC 9111 §5.3 says an invalid Expires means
// "already expired", so a lenient parser would turn garbage into freshness.

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
}
// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC_850 =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/

function build(year: number, month: string, day: number, h: number, m: number, s: number): number {
  const monthIndex = MONTHS[month] ?? MONTHS[month.charAt(0).toUpperCase() + month.slice(1).toLowerCase()]
  if (monthIndex === undefined || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return Number.NaN
  return Date.UTC(year, monthIndex, day, h, m, s)
}

const IMF_FIXDATE_ANY_CASE = new RegExp(IMF_FIXDATE.source.replace('[A-Z][a-z]{2}', '[A-Za-z]{3}'), 'i')
const RFC_850_ANY_CASE = new RegExp(RFC_850.source.replace('[A-Z][a-z]{2}', '[A-Za-z]{3}'), 'i')
const ASCTIME_ANY_CASE = new RegExp(ASCTIME.source.replace('[A-Z][a-z]{2}', '[A-Za-z]{3}'), 'i')

/**
 * Parses an HTTP-date into epoch ms; `NaN` when the value is not a valid HTTP-date. The names of
 * days and months and `GMT` are case-sensitive (RFC 9110 §5.6.7); `anyCase` accepts them in any
 * case, for `Expires` only: RFC 9110 §5.6.7 encourages recipients to be robust in parsing
 * timestamps, and `THU, 18 AUG 2050` means one date to anyone. Conditional requests keep the strict
 * form: RFC 9110 §13.1.3 says an `If-Modified-Since` that is not a valid HTTP-date is ignored.
 */
export function parseHttpDate(value: string | undefined, anyCase = false): number {
  if (value === undefined) return Number.NaN
  const text = value.trim()
  const strict = parseStrict(text)
  if (!anyCase || !Number.isNaN(strict)) return strict
  let match = IMF_FIXDATE_ANY_CASE.exec(text)
  if (match !== null) {
    return build(+match[3]!, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!)
  }
  match = RFC_850_ANY_CASE.exec(text)
  if (match !== null)
    return build(twoDigitYear(+match[3]!), match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!)
  match = ASCTIME_ANY_CASE.exec(text)
  if (match !== null) {
    return build(+match[6]!, match[1]!, +match[2]!.trim(), +match[3]!, +match[4]!, +match[5]!)
  }
  return Number.NaN
}

/** RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century. */
function twoDigitYear(yy: number): number {
  const year = 2000 + yy
  return year > new Date().getUTCFullYear() + 50 ? year - 100 : year
}

function parseStrict(text: string): number {
  let match = IMF_FIXDATE.exec(text)
  if (match !== null) {
    return build(+match[3]!, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!)
  }
  match = RFC_850.exec(text)
  if (match !== null) {
    return build(twoDigitYear(+match[3]!), match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!)
  }
  match = ASCTIME.exec(text)
  if (match !== null) {
    return build(+match[6]!, match[1]!, +match[2]!.trim(), +match[3]!, +match[4]!, +match[5]!)
  }
  return Number.NaN
}

/** Formats epoch ms as an IMF-fixdate. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString()
}
