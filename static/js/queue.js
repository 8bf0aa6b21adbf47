// The labeling queue: the model's next samples to label (GET /api/queue), kept in step with
// the labels on the page so that "next" never waits for the server.

export const QUEUE_FETCH = 50; // head length held on the page; refetched after every change
// (the server clusters for this many picks beyond the labels: LOOKAHEAD, ssvae/select/representative.py)
export const THUMBS = 6;
const REFRESH_MS = 120; // labels arriving in a burst refetch the head once

/** The first serial of `items` that is still unlabeled and not `exclude`, or null. */
export function nextFrom(items, user, exclude = null) {
  for (const item of items) {
    if (item.serial !== exclude && user[item.serial] < 0) return item.serial;
  }
  return null;
}

/** The unlabeled head after `exclude`, at most `limit` long. */
export function upcoming(items, user, limit, exclude = null) {
  const out = [];
  for (const item of items) {
    if (out.length >= limit) break;
    if (item.serial !== exclude && user[item.serial] < 0) out.push(item);
  }
  return out;
}

const STRATEGY_WORDS = {
  least_confidence: "least confidence",
  margin: "margin",
  entropy: "entropy",
  random: "random order",
  diverse: "diverse uncertainty",
};

/** "queue: 59,943 by margin" (or "… in random order" with the reason, before training). */
export function queueLine(head, pool) {
  if (!head) return "queue: loading…";
  const count = pool.toLocaleString("en-US");
  if (head.strategy === "random") return `queue: ${count} in random order`;
  return `queue: ${count} by ${STRATEGY_WORDS[head.strategy] ?? head.strategy}`;
}

/**
 * @param {object} opts
 * @param {(strategy: string, n: number) => Promise<object>} opts.fetchHead  GET /api/queue
 * @param {object} opts.state  the page state (user labels, selected)
 * @param {object} opts.els  {next, strategy, auto, line, note, thumbs}
 * @param {(serial: number) => string} opts.thumbnailUrl
 * @param {(serial: number, startedAt: number) => void} opts.pick  select and reveal a sample
 * @param {(serial: number) => void} opts.prefetch  load a sample's images ahead of time
 * @param {(message: string) => void} opts.onError
 * @param {(serial: number) => void} [opts.onSkip]  `n` left this unlabeled, queued sample
 */
export function createQueue({
  fetchHead, state, els, thumbnailUrl, pick, prefetch, onError, onSkip = () => {},
}) {
  let head = null;
  let picked = null; // the sample the queue selected last (auto-advance follows it)
  let timer = null;
  let loading = null;
  let stale = false;
  let reordering = null; // a refetch for a new order (new predictions, another strategy)

  function unlabeledPool() {
    if (!head) return 0;
    // Labels made since the fetch leave the pool at once, before the refetch answers.
    let gone = 0;
    for (const item of head.items) if (state.user[item.serial] >= 0) gone += 1;
    return Math.max(0, head.pool - gone);
  }

  function render() {
    els.line.textContent = queueLine(head, unlabeledPool());
    els.note.hidden = !head?.note;
    els.note.textContent = head?.note ? `${head.note[0].toUpperCase()}${head.note.slice(1)}.` : "";
    const shown = head ? upcoming(head.items, state.user, THUMBS, state.selected) : [];
    els.thumbs.replaceChildren(...shown.map((item) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "queue-thumb";
      button.dataset.serial = String(item.serial);
      button.title = `#${item.serial} · certainty ${(item.certainty * 100).toFixed(0)} %`;
      const img = document.createElement("img");
      img.src = thumbnailUrl(item.serial);
      img.alt = `sample ${item.serial}`;
      img.width = 28;
      img.height = 28;
      button.append(img);
      button.addEventListener("click", () => choose(item.serial, performance.now()));
      return button;
    }));
    els.next.disabled = !head || nextFrom(head.items, state.user, state.selected) === null;
  }

  async function refresh() {
    if (loading) {
      stale = true;
      return loading;
    }
    loading = (async () => {
      try {
        head = await fetchHead(els.strategy.value, QUEUE_FETCH);
        render();
        const after = head && nextFrom(head.items, state.user, state.selected);
        if (after !== null && after !== undefined) prefetch(after);
      } catch (error) {
        onError(`Could not load the labeling queue: ${error.message}`);
      }
    })();
    try {
      await loading;
    } finally {
      loading = null;
    }
    if (stale) {
      stale = false;
      await refresh();
    }
  }

  function choose(serial, startedAt) {
    picked = serial;
    pick(serial, startedAt);
    render();
    const after = head ? nextFrom(head.items, state.user, serial) : null;
    if (after !== null) prefetch(after); // the next advance paints from memory
  }

  /** The head in a new order (new predictions, another strategy): `n` waits for it. */
  function reorder() {
    const done = (async () => {
      await refresh();
      while (loading) await loading; // a refetch asked for meanwhile is part of it
    })();
    reordering = done;
    done.finally(() => {
      if (reordering === done) reordering = null;
    });
    return done;
  }

  /**
   * Selects the head of the queue other than the sample on screen; false when none is left.
   * Leaving that sample while it is unlabeled and still queued is said (`onSkip`).
   */
  async function next(startedAt = performance.now()) {
    if (reordering) await reordering; // not the head of the order the last model gave
    if (!head) await refresh();
    let serial = head ? nextFrom(head.items, state.user, state.selected) : null;
    if (serial === null) {
      await refresh();
      serial = head ? nextFrom(head.items, state.user, state.selected) : null;
    }
    if (serial === null) return false;
    const shown = state.selected;
    const skipped = shown !== null && state.user[shown] < 0
      && head.items.some((item) => item.serial === shown);
    choose(serial, startedAt);
    if (skipped) onSkip(shown);
    return true;
  }

  els.next.addEventListener("click", () => next());
  els.strategy.addEventListener("change", () => {
    els.strategy.blur(); // the keys go back to the page
    reorder();
  });

  return {
    next,
    refresh,
    reorder,
    /** Labels changed (from anywhere): hide them now, refetch the head soon. */
    labelsChanged() {
      render();
      clearTimeout(timer);
      timer = setTimeout(refresh, REFRESH_MS);
    },
    selectionChanged: render,
    /** After a label on the queue's own sample with auto-advance on: go to the next one. */
    shouldAdvance(serial) {
      return els.auto.checked && picked !== null && serial === picked;
    },
    get head() {
      return head;
    },
    get picked() {
      return picked;
    },
  };
}
