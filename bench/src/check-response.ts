/**
 * One request to a freshly started server before any load: the status and the exact body size
 * must be what the registry says. A scenario answering 500 or an empty body at 40k req/s would
 * otherwise look like a great result.
 */

import { request } from 'node:http'
import type { ScenarioDefinition } from './scenario.js'

interface Response {
  readonly status: number
  readonly body: Buffer
  readonly contentType: string | undefined
}

function get(url: string, headers: Readonly<Record<string, string>>): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { ...headers }, agent: false, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          contentType: res.headers['content-type'],
        }),
      )
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error('no response within 10 s')))
    req.on('error', reject)
    req.end()
  })
}

/** Throws a descriptive error unless the scenario answers as its registry entry expects. */
export async function checkResponse(scenario: ScenarioDefinition, url: string): Promise<void> {
  const response = await get(url, scenario.request?.headers ?? {})
  const { status, bodyBytes } = scenario.expect
  if (response.status !== status || response.body.length !== bodyBytes) {
    const preview = response.body.subarray(0, 120).toString('utf8')
    throw new Error(
      `response check failed: expected ${status} with ${bodyBytes} bytes, got ${response.status} with ` +
        `${response.body.length} bytes (${response.contentType ?? 'no content-type'}): ${preview}`,
    )
  }
}
