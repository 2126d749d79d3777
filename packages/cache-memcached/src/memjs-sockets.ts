import type { Socket } from 'node:net'

// The store relies on a few memjs 1.3 internals, all in lib/memjs/server.js. They are typed
// here as optional where private, so a memjs without them degrades to "no fix" rather than a
// crash: the engine's deadline still answers every request.

/**
 * The parts of a memjs `Server` the store uses. `error()` is memjs's own failure path: it
 * destroys the socket and calls back every operation pending on it with the error. `_socket`
 * and `sock()` are private to memjs.
 */
export interface MemjsServer {
  readonly host: string
  readonly port: number
  error(error: Error): void
  _socket?: Socket | undefined
  sock?: (sasl: boolean, go: (socket: Socket) => void) => void
}

/**
 * memjs's socket 'close' handler sets `server._socket = undefined` (and `connected = false`)
 * whenever a socket finishes closing, even an OLD socket whose replacement already exists. An
 * operation issued between a socket error and the end of that close (a retry from a rejection
 * handler is enough) opens a new socket which the old socket's handler then orphans: it stays
 * connected, memjs opens yet another one, and `client.close()` never closes the orphan, so the
 * process cannot exit (reproduced in test/failure.test.ts: two sockets left after three resets).
 *
 * For a client the store created, every socket memjs opens is recorded, and when a server gets
 * a new socket the close handlers of its older sockets are removed, so they can no longer touch
 * the server's state. The recorded sockets are what {@link closeSockets} destroys.
 */
export function trackSockets(server: MemjsServer, all: Set<Socket>): void {
  const sock = server.sock
  if (typeof sock !== 'function') return
  // This server's sockets that have not closed yet; `all` holds every server's, for close().
  const mine = new Set<Socket>()
  server.sock = function trackedSock(sasl, go) {
    const before = server._socket
    sock.call(server, sasl, go)
    const created = server._socket
    if (created === undefined || created === before || mine.has(created)) return
    for (const old of mine) {
      old.removeAllListeners('close')
      old.once('close', () => forget(old))
    }
    mine.add(created)
    all.add(created)
    created.once('close', () => forget(created))
  }
  function forget(socket: Socket): void {
    mine.delete(socket)
    all.delete(socket)
  }
}

/**
 * Drops a server's connection through memjs's own error path (every pending operation on it is
 * called back with `error`). The socket's 'close' handler is removed first, for the race
 * described in {@link trackSockets}, which also applies to injected clients.
 */
export function resetServer(server: MemjsServer, error: Error): void {
  server._socket?.removeAllListeners('close')
  server.error(error)
}

/** Destroys the recorded sockets still open after `graceMs` (a frozen server never answers a FIN). */
export function closeSockets(all: Set<Socket>, graceMs: number): void {
  if (all.size === 0) return
  setTimeout(() => {
    for (const socket of all) socket.destroy()
    all.clear()
  }, graceMs).unref()
}
