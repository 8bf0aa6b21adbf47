// HTTP access to the alctl server: JSON calls with the page token, plain-words errors,
// and the binary /api/points decoder.

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

const UNREACHABLE = "Cannot reach the alctl server. Is `alctl serve` still running?";

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

/** Creates the API client; every state-changing call carries the page's token. */
export function createApi(token) {
  async function request(method, path, body) {
    const init = { method, headers: {} };
    if (method !== "GET") init.headers["X-Alctl-Token"] = token;
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch {
      throw new ApiError(UNREACHABLE);
    }
    if (!response.ok) throw await errorFrom(response);
    return response;
  }

  const json = async (method, path, body) => (await request(method, path, body)).json();

  return {
    status: () => json("GET", "/api/status"),
    sample: (serial) => json("GET", `/api/samples/${serial}`),
    labels: () => json("GET", "/api/labels"),
    history: () => json("GET", "/api/history"),
    putLabel: (serial, label) => json("PUT", `/api/labels/${serial}`, { label }),
    deleteLabel: (serial) => json("DELETE", `/api/labels/${serial}`),
    postLabels: (labels) => json("POST", "/api/labels", { labels }),
    startTraining: (params) => json("POST", "/api/train", params),
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
 * Splits the /api/points buffer (see docs/ARCHITECTURE.md) into typed-array views.
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
