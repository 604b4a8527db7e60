/**
 * The request handlers of the built-in servers, as plain `(Request) => Response` functions so that
 * they are tested without sockets.
 */
import { requestUrl } from "../challenges/index.ts";

/** 405 for anything but GET and HEAD, else `undefined`. */
function rejectMethod(request: Request): Response | undefined {
  if (request.method === "GET" || request.method === "HEAD") return undefined;
  return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
}

/**
 * The certificate server's handler: `GET /` answers that the certificate is being served; other paths 404.
 */
export function certificateHandler(request: Request): Response {
  const rejected = rejectMethod(request);
  if (rejected) return rejected;
  if (requestUrl(request).pathname !== "/") return new Response("Not Found\n", { status: 404 });
  return new Response("bun-acme: serving the certificate obtained from the ACME server\n", {
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * The shutdown server's handler: `GET` of exactly `/shutdown` (no query) answers 200 and then
 * calls `onShutdown` once the response is on its way; any other method 405, other targets 404.
 */
export function shutdownHandler(onShutdown: () => void): (request: Request) => Response {
  let requested = false;
  return (request) => {
    if (request.method !== "GET") return new Response("Method Not Allowed\n", { status: 405, headers: { allow: "GET" } });
    const url = requestUrl(request);
    if (url.pathname !== "/shutdown" || url.search !== "" || request.url.includes("?")) return new Response("Not Found\n", { status: 404 });
    if (!requested) {
      requested = true;
      // Let the response be written before the servers close.
      setTimeout(onShutdown, 0);
    }
    return new Response("Shutting down\n", { headers: { "content-type": "text/plain; charset=utf-8" } });
  };
}
