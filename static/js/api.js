// HTTP access to the alctl server: JSON calls with the page token, plain-words errors,
// and the binary /api/points decoder.

export class ApiError extends Error {
  constructor(message, status = 0, { timedOut = false } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.timedOut = timedOut; // no answer within the deadline: the request was aborted
  }
}

export const UNREACHABLE = "Cannot reach the alctl server. Is `alctl serve` still running?";
// A label write takes milliseconds; one that has not answered after this never will (Chromium
// can park a request for good), so it is aborted and the labeler sends it again.
export const WRITE_DEADLINE_MS = 3000;

/** Server messages are terse ("label must be an integer 0-9"); make them end like sentences. */
export function sentence(text) {
  const t = String(text ?? "").trim();
  if (!t) return "";
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

async function errorFrom(response) {
  let detail = "";
  try {
    const body = await response.json();
    detail = body && typeof body.error === "string" ? body.error : "";
  } catch {
    // The body was not JSON (a proxy page, a crash); fall back to the status line.
  }
  return new ApiError(
    sentence(detail) || `The server answered ${response.status} ${response.statusText}.`,
    response.status);
}

/** The JSON config the server embeds in its page (token, dataset, n_samples, class names). */
export function readPageConfig(html) {
  const node = new DOMParser().parseFromString(html, "text/html").getElementById("alctl-config");
  if (!node) throw new ApiError("The server's page carries no configuration.");
  return JSON.parse(node.textContent);
}

// crypto.randomUUID needs a secure context; a server bound to a LAN address is plain http.
export const randomId = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0"))
    .join("");

/**
 * Creates the API client. Every state-changing call carries the page's token; a server that
 * restarted has a new one, which `renewToken()` reads from the server's own page (same origin,
 * so nothing new is exposed). Label writes are numbered (`X-Alctl-Write: <writer>/<n>`, n rising
 * with every attempt) so the server can refuse an abandoned attempt that arrives late.
 */
export function createApi(initialToken, { writer = randomId() } = {}) {
  let token = initialToken;
  let renewing = null;
  let attempts = 0;

  async function renewToken() {
    renewing ??= (async () => {
      let response;
      try {
        response = await fetch("/", { cache: "no-store" });
      } catch {
        throw new ApiError(UNREACHABLE);
      }
      if (!response.ok) throw await errorFrom(response);
      return readPageConfig(await response.text());
    })().finally(() => {
      renewing = null;
    });
    const config = await renewing;
    token = config.token;
    return config;
  }

  async function send(method, path, body, { deadlineMs = 0, ordered = false }) {
    const init = { method, headers: {} };
    if (method !== "GET") init.headers["X-Alctl-Token"] = token;
    if (ordered) init.headers["X-Alctl-Write"] = `${writer}/${++attempts}`;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const controller = deadlineMs > 0 ? new AbortController() : null;
    const timer = controller && setTimeout(() => controller.abort(), deadlineMs);
    if (controller) init.signal = controller.signal;
    try {
      return await fetch(path, init);
    } catch {
      if (controller?.signal.aborted) {
        throw new ApiError(`The server did not answer within ${deadlineMs / 1000} s.`, 0,
          { timedOut: true });
      }
      throw new ApiError(UNREACHABLE);
    } finally {
      clearTimeout(timer);
    }
  }

  async function request(method, path, body, options = {}) {
    const sentWith = token; // the token may be renewed while the request is out
    let response = await send(method, path, body, options);
    if (response.status === 403 && method !== "GET") {
      // Refused: perhaps the server restarted with a new token. Retry once if it did (a
      // renewal that ended while this request was out counts too).
      if (token === sentWith) await renewToken().catch(() => {});
      if (token !== sentWith) response = await send(method, path, body, options);
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  const json = async (method, path, body, options) =>
    (await request(method, path, body, options)).json();
  const write = (deadlineMs = WRITE_DEADLINE_MS) => ({ deadlineMs, ordered: true });

  return {
    renewToken,
    status: () => json("GET", "/api/status"),
    sample: (serial) => json("GET", `/api/samples/${serial}`),
    labels: () => json("GET", "/api/labels"),
    history: () => json("GET", "/api/history"),
    queue: (strategy, n) => json("GET", `/api/queue?strategy=${encodeURIComponent(strategy)}&n=${n}`),
    // `deadlineMs` overrides the write deadline (the labeler lengthens it on each retry).
    putLabel: (serial, label, deadlineMs) =>
      json("PUT", `/api/labels/${serial}`, { label }, write(deadlineMs)),
    deleteLabel: (serial, deadlineMs) =>
      json("DELETE", `/api/labels/${serial}`, undefined, write(deadlineMs)),
    postLabels: (labels, deadlineMs) =>
      json("POST", "/api/labels", { labels }, write(deadlineMs)),
    startTraining: (params) => json("POST", "/api/train", params),
    evaluation: () => json("GET", "/api/evaluation"),
    stopTraining: () => json("POST", "/api/train/stop"),
    decodePoint: (x, y) => json("GET", `/api/decode?x=${x}&y=${y}`),
    decodeGrid: (grid) => json("POST", "/api/decode", { grid }),
    thumbnailUrl: (serial) => `/api/samples/${serial}/original.png`,
    async points() {
      const response = await request("GET", "/api/points");
      const count = Number(response.headers.get("X-Points-Count"));
      const version = response.headers.get("X-Latent-Version");
      return decodePoints(await response.arrayBuffer(), count, version);
    },
  };
}

/**
 * Splits the /api/points buffer (see docs/api.md) into typed-array views.
 * No per-point objects: every column is a view or one typed array.
 */
export function decodePoints(buffer, count, version) {
  const n = Number.isFinite(count) && count >= 0 ? count : buffer.byteLength / 15;
  if (!Number.isInteger(n) || buffer.byteLength !== n * 15) {
    throw new ApiError(
      `The points payload has ${buffer.byteLength} bytes, which does not match ${count} points.`);
  }
  const xy = new Float32Array(buffer, 0, 2 * n);
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = xy[2 * i];
    y[i] = xy[2 * i + 1];
  }
  return {
    n,
    version: version === null ? null : version,
    x,
    y,
    certainty: new Float32Array(buffer, 8 * n, n),
    pred: new Int8Array(buffer, 12 * n, n),
    truth: new Int8Array(buffer, 13 * n, n),
    user: new Int8Array(buffer, 14 * n, n),
  };
}

/** Decodes a base64 string of 784 grayscale bytes into a Uint8Array. */
export function decodeImage(b64) {
  const raw = atob(b64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}
