// A batch of samples to label with one key: built by lasso (Shift+drag) and Shift+click,
// shown as a grid of thumbnails (each can be unticked) with its make-up by predicted class,
// written as one request. A guarded label (guards.js) waits in the panel for Enter.

export const GRID_CAP = 48; // thumbnails shown; the count always tells the whole batch

/** The ordered set after a Shift+click on `serial`: added if absent, removed if present. */
export function toggled(list, serial) {
  return list.includes(serial) ? list.filter((s) => s !== serial) : [...list, serial];
}

/** The ordered union (a lasso adds to what is already chosen). */
export function merged(list, more) {
  const seen = new Set(list);
  const out = [...list];
  for (const serial of more) {
    if (!seen.has(serial)) {
      seen.add(serial);
      out.push(serial);
    }
  }
  return out;
}

/**
 * @param {object} opts
 * @param {object} opts.els  {panel, count, grid, clear, makeup, ask, question, confirm}
 * @param {(serial: number) => string} opts.thumbnailUrl
 * @param {(serials: number[]) => void} opts.onChange  the batch changed (highlight it)
 * @param {(serials: number[]) => string} opts.describe  its make-up, in words
 * @param {(label: number|null) => void} opts.onConfirm  the asked label was confirmed
 */
export function createBatch({ els, thumbnailUrl, onChange, describe, onConfirm }) {
  let serials = [];
  let asking; // the label waiting for Enter (null: removing labels); undefined: none

  function renderAsk() {
    els.ask.hidden = asking === undefined;
    if (asking === undefined) els.question.textContent = "";
  }

  function render() {
    asking = undefined;
    renderAsk();
    els.panel.hidden = serials.length < 2;
    els.makeup.textContent = serials.length < 2 ? "" : describe(serials);
    els.count.textContent = serials.length > GRID_CAP
      ? `${serials.length.toLocaleString("en-US")} selected (first ${GRID_CAP} shown)`
      : `${serials.length} selected`;
    els.grid.replaceChildren(...serials.slice(0, GRID_CAP).map((serial) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "batch-thumb";
      button.dataset.serial = String(serial);
      button.title = `#${serial}: click to leave it out`;
      const img = document.createElement("img");
      img.src = thumbnailUrl(serial);
      img.alt = `sample ${serial}`;
      button.append(img);
      button.addEventListener("click", () => set(toggled(serials, serial)));
      return button;
    }));
  }

  function set(next) {
    serials = next;
    render();
    onChange(serials);
  }

  els.clear.addEventListener("click", () => set([]));
  els.confirm.addEventListener("click", () => confirm());

  function confirm() {
    if (asking === undefined) return false;
    const label = asking;
    asking = undefined;
    renderAsk();
    onConfirm(label);
    return true;
  }

  return {
    set,
    toggle: (serial) => set(toggled(serials, serial)),
    add: (more) => set(merged(serials, more)),
    /** Forget the batch without telling (the caller is already selecting something else). */
    reset() {
      serials = [];
      render();
    },
    get serials() {
      return serials;
    },
    get active() {
      return serials.length > 1;
    },
    /** Holds `label` until confirm() (Enter), showing `question`; cancel() drops it. */
    ask(label, question) {
      asking = label;
      els.question.textContent = question;
      renderAsk();
    },
    confirm,
    /** Drops a label waiting for Enter; false when there was none. */
    cancel() {
      if (asking === undefined) return false;
      asking = undefined;
      renderAsk();
      return true;
    },
    get asking() {
      return asking;
    },
  };
}
