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
  const monthIndex = MONTHS[month]
  if (monthIndex === undefined || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return Number.NaN
  return Date.UTC(year, monthIndex, day, h, m, s)
}

/** Parses an HTTP-date into epoch ms; `NaN` when the value is not a valid HTTP-date. */
export function parseHttpDate(value: string | undefined): number {
  if (value === undefined) return Number.NaN
  const text = value.trim()
  let match = IMF_FIXDATE.exec(text)
  if (match !== null) {
    return build(+match[3]!, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!)
  }
  match = RFC_850.exec(text)
  if (match !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    let year = 2000 + +match[3]!
    if (year > new Date().getUTCFullYear() + 50) year -= 100
    return build(year, match[2]!, +match[1]!, +match[4]!, +match[5]!, +match[6]!)
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
