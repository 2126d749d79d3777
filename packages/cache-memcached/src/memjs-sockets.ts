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
  responseBuffer?: Buffer
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
 *
 * @param onLost makes the error given to operations still pending when their socket closes.
 */
export function trackSockets(
  server: MemjsServer,
  all: Set<Socket>,
  onLost: (server: MemjsServer) => Error,
): void {
  const sock = server.sock
  if (typeof sock !== 'function') return
  // This server's sockets that have not closed yet; `all` holds every server's, for close().
  const mine = new Set<Socket>()
  server.sock = function trackedSock(sasl, go) {
    const before = server._socket
    sock.call(server, sasl, go)
    const created = server._socket
    if (created === undefined || created === before || mine.has(created)) return
    // A new connection starts at a message boundary: whatever an older one left half-read is
    // garbage (see resetServer).
    server.responseBuffer = Buffer.alloc(0)
    for (const old of mine) {
      old.removeAllListeners('close')
      old.once('close', () => forget(old))
    }
    mine.add(created)
    all.add(created)
    created.once('close', () => {
      forget(created)
      // The server closed the connection (a graceful restart, an idle timeout, a proxy): memjs
      // only clears the socket and leaves the operations sent on it pending until some later
      // error. Nothing can answer them any more, so fail them now, through memjs's error path,
      // unless a newer socket already took over (its operations are not ours to fail).
      if (server._socket === undefined || server._socket === created) server.error(onLost(server))
    })
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
 *
 * memjs keeps ONE receive buffer per server across connections and never empties it when a
 * connection fails. Bytes left from a connection that died mid-response (or a text-protocol
 * "ERROR Too many open connections" line, which is not a binary message at all) stay in front of
 * every later response, which are then parsed at the wrong offsets: nothing on that server ever
 * completes again (reproduced in test/failure.test.ts). So the buffer is emptied here, and for
 * created clients whenever memjs opens a new connection.
 */
export function resetServer(server: MemjsServer, error: Error): void {
  server._socket?.removeAllListeners('close')
  server.error(error)
  if (server.responseBuffer !== undefined) server.responseBuffer = Buffer.alloc(0)
}

/** Destroys the recorded sockets still open after `graceMs` (a frozen server never answers a FIN). */
export function closeSockets(all: Set<Socket>, graceMs: number): void {
  if (all.size === 0) return
  setTimeout(() => {
    for (const socket of all) socket.destroy()
    all.clear()
  }, graceMs).unref()
}
