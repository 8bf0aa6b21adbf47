// Training inputs checked against the hyperparameter schema the server embeds in the page
// (ssvae/config/hparams.py is the one place the names, kinds and ranges are written down).
// Pure functions: no DOM, so `node --test tests/js/` covers them.

/** [value, null] when `raw` (the input's text) fits `param`, else [null, message]. */
export function checkParam(param, raw) {
  const text = String(raw ?? "").trim();
  const value = Number(text);
  const low = param.low ?? -Infinity;
  const high = param.high ?? Infinity;
  const bad = text === "" || !Number.isFinite(value)
    || (param.kind === "int" && !Number.isInteger(value))
    || (param.low_open ? value <= low : value < low) || value > high;
  if (bad) return [null, `${param.label} must be ${param.text}.`];
  return [value, null];
}

/** [params, errors, badNames] for raw texts by name, in the schema's order. */
export function checkParams(schema, raw) {
  const params = {};
  const errors = [];
  const bad = [];
  for (const param of schema) {
    const [value, error] = checkParam(param, raw[param.name]);
    if (error) {
      errors.push(error);
      bad.push(param.name);
    } else {
      params[param.name] = value;
    }
  }
  return [params, errors, bad];
}
