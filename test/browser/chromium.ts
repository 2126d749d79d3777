/**
 * Headless Chromium driven over the DevTools protocol, for tests that must assert what a real
 * browser sent and received (issue 20: Compression Dictionary Transport, RFC 9842).
 *
 * Only Node built-ins: Chromium is started with `--remote-debugging-pipe`, so the protocol runs
 * over file descriptors 3 (we write) and 4 (we read), one JSON message per NUL-terminated chunk.
 * No port to discover, no WebSocket client, nothing listening on the machine.
 *
 * Debian: `apt-get install -y chromium` (the binary is `/usr/bin/chromium`, a shell wrapper that
 * execs `/usr/lib/chromium/chromium` and keeps the pipe descriptors). Set `CHROMIUM_BIN` to use
 * another build.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import type { Readable, Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'

/** One request the page made, as the network stack sent it and as it received the answer. */
export interface NetworkEntry {
  /** The protocol's id of the request, for {@link Chromium.responseBody}. */
  requestId: string
  url: string
  /** `Network.requestWillBeSent`'s resource type: `Document`, `Script`, ... */
  type: string
  /**
   * The headers on the wire (`Network.requestWillBeSentExtraInfo`): unlike the renderer's view,
   * these include `accept-encoding` and `available-dictionary`, which the network stack adds.
   * Names are lower-cased.
   */
  requestHeaders: Record<string, string>
  status: number
  /** Response headers as received (`Network.responseReceivedExtraInfo` when sent, else `responseReceived`), lower-cased names. */
  responseHeaders: Record<string, string>
  /** Served from Chromium's HTTP cache without a network request. */
  fromDiskCache: boolean
  /** Bytes received on the wire for this response (`Network.loadingFinished`), headers included. */
  encodedDataLength: number
  /** `Network.loadingFailed`'s error text, when the load failed (e.g. `net::ERR_DICTIONARY_LOAD_FAILED`). */
  failed?: string
}

/** What one navigation did. */
export interface Visit {
  /** Every request the page started, in the order sent. */
  requests: NetworkEntry[]
  /** Uncaught exceptions and console errors of the page (`Runtime.exceptionThrown`, `Log.entryAdded`). */
  errors: string[]
}

/** Options of {@link launchChromium}. */
export interface ChromiumOptions {
  /** Executable name on PATH or absolute path. Default: `CHROMIUM_BIN`, else `chromium`. */
  binary?: string
  /** Extra command-line switches, appended after the helper's own. */
  args?: string[]
  /** Bound on each protocol command and each navigation, in milliseconds. Default 30000. */
  timeoutMs?: number
}

/** A running headless Chromium with one tab and a fresh profile, deleted on {@link Chromium.close}. */
export interface Chromium {
  /** `Browser.getVersion`'s product, e.g. `Chrome/156.0.8078.114`. */
  readonly version: string
  /**
   * Navigate the tab to `url`, wait for its load event and for every request it started to
   * finish, and return those requests in the order they were sent. The profile (HTTP cache,
   * stored dictionaries) is kept between visits.
   */
  visit(url: string): Promise<Visit>
  /**
   * The body of a response of the current page as Chromium decoded it (after any content coding),
   * from `Network.getResponseBody`. Ask before the next visit: a new page drops the old bodies.
   */
  responseBody(requestId: string): Promise<Buffer>
  /**
   * Wait until Chromium has stored a dictionary that matches `probeUrl`, and return the
   * `Available-Dictionary` value it now sends for it.
   *
   * Chromium registers a `Use-As-Dictionary` response asynchronously after the body is read (it
   * is written to the profile's dictionary store first), so the page's load event does not mean
   * the next request will name it: on a loaded 2-core machine about one visit in six went out
   * without it. There is no DevTools method that lists stored dictionaries, so this fetches
   * `probeUrl` from the page (same origin, `cache: 'no-store'`) every 50 ms and reads the request
   * headers the network stack sent. Pick a URL that matches the dictionary's `match` pattern but
   * that the server answers with 404 (no response registers a dictionary or lands in the cache).
   */
  waitForDictionary(probeUrl: string): Promise<string>
  /** Evaluate a JavaScript expression in the page and return its JSON value. */
  evaluate(expression: string): Promise<unknown>
  /** Kill the browser and remove its profile directory. */
  close(): Promise<void>
}

interface ProtocolMessage {
  id?: number
  method?: string
  sessionId?: string
  params?: Record<string, unknown>
  result?: Record<string, unknown>
  error?: { code: number; message: string }
}

/** The Chromium executable, or `undefined` when none is installed. */
export function findChromium(binary = process.env.CHROMIUM_BIN ?? 'chromium'): string | undefined {
  const candidates = binary.includes('/')
    ? [binary]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, binary))
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not there
    }
  }
  return undefined
}

/** Start headless Chromium with a fresh profile and attach to its tab. */
export async function launchChromium(options: ChromiumOptions = {}): Promise<Chromium> {
  const binary = findChromium(options.binary)
  if (binary === undefined) {
    throw new Error('chromium not found: apt-get install -y chromium (Debian), or set CHROMIUM_BIN')
  }
  const timeoutMs = options.timeoutMs ?? 30_000
  const profile = mkdtempSync(join(tmpdir(), 'fastify-perf-chromium-'))
  const args = [
    '--headless',
    '--remote-debugging-pipe',
    `--user-data-dir=${profile}`,
    '--no-first-run',
    '--no-default-browser-check',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--mute-audio',
    // The setuid/namespace sandbox refuses to start as root (CI runs as root).
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    ...(options.args ?? []),
    'about:blank',
  ]
  // Its own process group, so that close() also ends the zygote, renderer and crashpad
  // processes, which may outlive a killed browser process and keep writing into the profile.
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'], detached: true })
  let stderr = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    // Kept for the error message when the browser dies; bounded.
    stderr = (stderr + chunk).slice(-4000)
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const connection = new Connection(child, timeoutMs, () => stderr)

  try {
    const { product } = (await connection.send('Browser.getVersion')) as { product: string }
    const { targetInfos } = (await connection.send('Target.getTargets')) as {
      targetInfos: { targetId: string; type: string }[]
    }
    const page = targetInfos.find((target) => target.type === 'page')
    if (page === undefined) throw new Error('chromium started without a page target')
    const { sessionId } = (await connection.send('Target.attachToTarget', {
      targetId: page.targetId,
      flatten: true,
    })) as { sessionId: string }
    await connection.send('Network.enable', {}, sessionId)
    await connection.send('Page.enable', {}, sessionId)
    await connection.send('Runtime.enable', {}, sessionId)
    await connection.send('Log.enable', {}, sessionId)

    return {
      version: product,
      visit: (url) => visit(connection, sessionId, url, timeoutMs),
      waitForDictionary: (probeUrl) => waitForDictionary(connection, sessionId, probeUrl, timeoutMs),
      async responseBody(requestId) {
        const { body, base64Encoded } = (await connection.send(
          'Network.getResponseBody',
          { requestId },
          sessionId,
        )) as {
          body: string
          base64Encoded: boolean
        }
        return Buffer.from(body, base64Encoded ? 'base64' : 'utf8')
      },
      async evaluate(expression) {
        const { result, exceptionDetails } = (await connection.send(
          'Runtime.evaluate',
          { expression, returnByValue: true },
          sessionId,
        )) as { result: { value?: unknown }; exceptionDetails?: { text: string } }
        if (exceptionDetails !== undefined)
          throw new Error(`evaluate ${expression}: ${exceptionDetails.text}`)
        return result.value
      },
      async close() {
        // Browser.close lets Chromium flush and exit on its own; the group kill is the fallback.
        await Promise.race([connection.send('Browser.close').catch(() => {}), sleep(2000)])
        await Promise.race([exited, sleep(2000)])
        await shutDown(child, exited, profile)
      },
    }
  } catch (error) {
    await shutDown(child, exited, profile)
    throw error
  }
}

async function shutDown(child: ChildProcess, exited: Promise<void>, profile: string): Promise<void> {
  try {
    process.kill(-(child.pid as number), 'SIGKILL')
  } catch {
    // the group is gone already
  }
  await exited
  // A helper process may still be closing files in the profile for a moment: rmSync retries
  // ENOTEMPTY and EBUSY.
  rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
}

async function visit(
  connection: Connection,
  sessionId: string,
  url: string,
  timeoutMs: number,
): Promise<Visit> {
  const entries = new Map<string, NetworkEntry>()
  const errors: string[] = []
  const pending = new Set<string>()
  const entry = (requestId: string): NetworkEntry => {
    let found = entries.get(requestId)
    if (found === undefined) {
      found = {
        requestId,
        url: '',
        type: '',
        requestHeaders: {},
        status: 0,
        responseHeaders: {},
        fromDiskCache: false,
        encodedDataLength: 0,
      }
      entries.set(requestId, found)
    }
    return found
  }
  let loaded = false
  let settle: () => void = () => {}
  const done = new Promise<void>((resolve) => {
    settle = resolve
  })
  const check = () => {
    if (loaded && pending.size === 0) settle()
  }

  const stop = connection.listen(sessionId, (method, params) => {
    const requestId = params.requestId as string
    switch (method) {
      case 'Network.requestWillBeSent': {
        const request = params.request as { url: string; headers: Record<string, string> }
        const e = entry(requestId)
        e.url = request.url
        e.type = (params.type as string | undefined) ?? ''
        // Replaced by the wire headers when requestWillBeSentExtraInfo arrives.
        if (Object.keys(e.requestHeaders).length === 0) e.requestHeaders = lower(request.headers)
        pending.add(requestId)
        break
      }
      case 'Network.requestWillBeSentExtraInfo':
        entry(requestId).requestHeaders = lower(params.headers as Record<string, string>)
        break
      case 'Network.responseReceived': {
        const response = params.response as {
          status: number
          headers: Record<string, string>
          fromDiskCache?: boolean
        }
        const e = entry(requestId)
        e.status = response.status
        if (Object.keys(e.responseHeaders).length === 0) e.responseHeaders = lower(response.headers)
        e.fromDiskCache = response.fromDiskCache === true
        break
      }
      case 'Network.responseReceivedExtraInfo':
        entry(requestId).responseHeaders = lower(params.headers as Record<string, string>)
        break
      case 'Network.loadingFinished':
        entry(requestId).encodedDataLength = params.encodedDataLength as number
        pending.delete(requestId)
        check()
        break
      case 'Network.loadingFailed':
        entry(requestId).failed = params.errorText as string
        pending.delete(requestId)
        check()
        break
      case 'Runtime.exceptionThrown': {
        const details = params.exceptionDetails as { text: string; exception?: { description?: string } }
        errors.push(details.exception?.description ?? details.text)
        break
      }
      case 'Log.entryAdded': {
        const logEntry = params.entry as { level: string; text: string; url?: string }
        if (logEntry.level === 'error')
          errors.push(`${logEntry.text}${logEntry.url ? ` (${logEntry.url})` : ''}`)
        break
      }
      case 'Page.loadEventFired':
        loaded = true
        check()
        break
    }
  })
  try {
    const navigation = (await connection.send('Page.navigate', { url }, sessionId)) as { errorText?: string }
    if (navigation.errorText !== undefined) throw new Error(`navigate ${url}: ${navigation.errorText}`)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      done,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`navigate ${url}: no load event within ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ]).finally(() => clearTimeout(timer))
    // The ExtraInfo events travel separately from the others and may trail loadingFinished.
    await connection.send('Runtime.evaluate', { expression: '0' }, sessionId)
    // Only requests this page started: an ExtraInfo event of an earlier request (a probe of
    // waitForDictionary) can arrive during the visit and leave an entry without a URL.
    return { requests: [...entries.values()].filter((entry) => entry.url !== ''), errors }
  } finally {
    stop()
  }
}

async function waitForDictionary(
  connection: Connection,
  sessionId: string,
  probeUrl: string,
  timeoutMs: number,
): Promise<string> {
  const probeIds = new Set<string>()
  const sentHeaders = new Map<string, Record<string, string>>()
  // requestWillBeSent and its ExtraInfo arrive in either order.
  const stop = connection.listen(sessionId, (method, params) => {
    const requestId = params.requestId as string
    if (method === 'Network.requestWillBeSent' && (params.request as { url: string }).url === probeUrl) {
      probeIds.add(requestId)
    } else if (method === 'Network.requestWillBeSentExtraInfo') {
      sentHeaders.set(requestId, lower(params.headers as Record<string, string>))
    }
  })
  try {
    const deadline = Date.now() + timeoutMs
    let attempts = 0
    while (Date.now() < deadline) {
      attempts++
      await connection.send(
        'Runtime.evaluate',
        {
          expression: `fetch(${JSON.stringify(probeUrl)}, { cache: 'no-store' }).then((r) => r.status, () => 0)`,
          awaitPromise: true,
        },
        sessionId,
      )
      // The ExtraInfo event may trail the fetch's answer by a message or two.
      await connection.send('Runtime.evaluate', { expression: '0' }, sessionId)
      for (const id of probeIds) {
        const value = sentHeaders.get(id)?.['available-dictionary']
        if (value !== undefined) return value
      }
      await sleep(50)
    }
    throw new Error(`no dictionary advertised for ${probeUrl} after ${attempts} probes in ${timeoutMs} ms`)
  } finally {
    stop()
  }
}

function lower(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value
  return out
}

type Listener = (method: string, params: Record<string, unknown>) => void

/** The DevTools protocol over Chromium's pipe: NUL-separated JSON messages on fds 3 and 4. */
class Connection {
  #nextId = 1
  #calls = new Map<
    number,
    { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }
  >()
  #listeners = new Set<{ sessionId: string; listener: Listener }>()
  #input: Writable
  #timeoutMs: number
  #closed: Error | undefined

  constructor(child: ChildProcess, timeoutMs: number, stderr: () => string) {
    this.#timeoutMs = timeoutMs
    this.#input = child.stdio[3] as Writable
    const output = child.stdio[4] as Readable
    let buffer = ''
    output.setEncoding('utf8')
    output.on('data', (chunk: string) => {
      buffer += chunk
      let end = buffer.indexOf('\0')
      while (end !== -1) {
        this.#dispatch(JSON.parse(buffer.slice(0, end)) as ProtocolMessage)
        buffer = buffer.slice(end + 1)
        end = buffer.indexOf('\0')
      }
    })
    this.#input.on('error', () => {
      // EPIPE when the browser died; reported through the exit handler below.
    })
    child.once('exit', (code, signal) => {
      this.#closed = new Error(`chromium exited (code ${code}, signal ${signal}); stderr:\n${stderr()}`)
      for (const call of this.#calls.values()) call.reject(this.#closed)
      this.#calls.clear()
    })
  }

  send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<Record<string, unknown>> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed)
    const id = this.#nextId++
    const message: ProtocolMessage = { id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id)
        reject(new Error(`${method}: no answer within ${this.#timeoutMs} ms`))
      }, this.#timeoutMs)
      this.#calls.set(id, {
        resolve: (value) => {
          clearTimeout(timer)
          resolve(value)
        },
        reject: (error) => {
          clearTimeout(timer)
          reject(error)
        },
      })
      this.#input.write(`${JSON.stringify(message)}\0`)
    })
  }

  /** Receive the events of one session until the returned function is called. */
  listen(sessionId: string, listener: Listener): () => void {
    const entry = { sessionId, listener }
    this.#listeners.add(entry)
    return () => this.#listeners.delete(entry)
  }

  #dispatch(message: ProtocolMessage): void {
    if (message.id !== undefined) {
      const call = this.#calls.get(message.id)
      if (call === undefined) return
      this.#calls.delete(message.id)
      if (message.error !== undefined)
        call.reject(new Error(`${message.error.message} (${message.error.code})`))
      else call.resolve(message.result ?? {})
      return
    }
    if (message.method === undefined) return
    for (const { sessionId, listener } of this.#listeners) {
      if (sessionId === message.sessionId) listener(message.method, message.params ?? {})
    }
  }
}
