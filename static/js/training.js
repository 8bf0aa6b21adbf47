// The training panel: hyperparameter inputs (checked here first against the schema the
// page embeds, server errors shown as they come), Start/Stop, and live progress.

import { checkParams } from "./params.js";

/** Returns [params, errors] for the form's inputs; the schema is the form's data-params. */
export function readParams(form) {
  const schema = JSON.parse(form.dataset.params);
  const raw = Object.fromEntries(schema.map((p) => [p.name, form.elements[p.name].value]));
  const [params, errors, bad] = checkParams(schema, raw);
  for (const param of schema) form.elements[param.name].classList.toggle("invalid", bad.includes(param.name));
  return [params, errors];
}

/** "m:ss" for a number of seconds; "" for anything else. */
export function clock(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

const fmt = (v) => (typeof v === "number" && Number.isFinite(v) ? v.toPrecision(4) : "–");

/**
 * @param {object} deps
 * @param {object} deps.api
 * @param {object} deps.els  {form, start, stop, error, state, progress, epoch, eta, fill, losses}
 */
export function createTrainingPanel({ api, els }) {
  let state = "idle";
  const edited = new Set(); // inputs the person changed: server values no longer overwrite them

  const names = JSON.parse(els.form.dataset.params).map((p) => p.name);
  for (const name of names) {
    els.form.elements[name].addEventListener("input", () => edited.add(name));
  }

  function setState(next) {
    state = next;
    els.state.textContent = next;
    els.state.dataset.state = next;
    els.start.disabled = next !== "idle";
    els.stop.disabled = next !== "running";
    els.progress.hidden = next === "idle";
  }

  function showError(message) {
    els.error.textContent = message;
  }

  els.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const [params, errors] = readParams(els.form);
    if (errors.length) {
      showError(errors.join(" "));
      return;
    }
    showError("");
    els.start.disabled = true;
    try {
      await api.startTraining(params);
      edited.clear();
      if (state === "idle") setState("running");
    } catch (error) {
      showError(error.message);
      els.start.disabled = state !== "idle";
    }
  });

  els.stop.addEventListener("click", async () => {
    els.stop.disabled = true;
    try {
      await api.stopTraining();
      if (state === "running") setState("stopping");
    } catch (error) {
      showError(error.message);
      els.stop.disabled = state !== "running";
    }
  });

  function progress({ epoch, epochs, batch, batches, eta_s: eta }) {
    const done = epochs > 0 && batches > 0 ? ((epoch - 1) * batches + batch) / (epochs * batches) : 0;
    els.fill.style.width = `${Math.min(100, Math.max(0, done * 100)).toFixed(1)}%`;
    els.epoch.textContent = `epoch ${epoch} / ${epochs} · batch ${batch} / ${batches}`;
    els.eta.textContent = eta === null || eta === undefined ? "" : `ETA ${clock(eta)}`;
  }

  function losses(record) {
    els.losses.textContent = "";
    const rows = [["", "train", "val"], ["total", "loss"], ["reconstruction", "reconstruction_loss"],
      ["KL", "kl_loss"], ["classification", "classification_loss"], ["accuracy", "accuracy"]];
    const [header, ...metrics] = rows;
    for (const text of header) els.losses.append(Object.assign(document.createElement("dt"), { textContent: text }));
    for (const [label, key] of metrics) {
      const cells = [label, fmt(record.train?.[key]), fmt(record.val?.[key])];
      cells.forEach((text, i) => {
        const cell = document.createElement(i === 0 ? "dt" : "dd");
        cell.textContent = text;
        els.losses.append(cell);
      });
    }
  }

  return {
    get state() {
      return state;
    },
    /** Values from status.hparams, except the ones the person is editing. */
    setHparams(hparams) {
      for (const name of names) {
        const input = els.form.elements[name];
        if (hparams?.[name] === undefined || edited.has(name) || document.activeElement === input) continue;
        input.value = String(hparams[name]);
        input.classList.remove("invalid");
      }
    },
    /** The `training` object of /api/status or a snapshot. */
    sync(training) {
      setState(training.state ?? "idle");
      if (training.state !== "idle" && training.epochs) progress(training);
    },
    started({ epochs, batches }) {
      setState("running");
      showError("");
      progress({ epoch: 1, epochs, batch: 0, batches: batches ?? 0 });
    },
    progress,
    epoch: losses,
    /** A new server process: errors from the old one are void (the summary says what it kept). */
    serverRestarted() {
      showError("");
      els.start.disabled = state !== "idle";
    },
    /** `session_saved`: the session is over and its save done (or refused): idle. */
    saved() {
      setState("idle");
    },
    /**
     * `train_ended`: the loop ended; the session is saved next (state `saving` until
     * `session_saved`, on servers that report it). Returns a message for the page when the
     * session did not complete normally.
     */
    ended(result) {
      setState(state === "idle" ? "idle" : "saving");
      if (result.status === "failed") {
        return `Training failed: ${result.error ?? "no reason given"}. Adjust the settings and start again.`;
      }
      return null;
    },
  };
}
