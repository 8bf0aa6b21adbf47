// The page's layout controls: the legend's fold (open only over a large plot unless the
// person chose otherwise, and that choice kept), and, in windows under 1200 px, the header's
// tabs that show one side column at a time, with a dot on "Train" while a session runs.

// The legend starts open only over a plot this large: it covers a corner of the points.
const LEGEND_OPEN_MIN = [900, 700];
const LEGEND_STORE = "alctl.legend";

/**
 * @param {object} els  {legend, wrap (the plot), tabs (the .side-tab buttons), trainState
 *   (the training badge, whose data-state says idle or not)}
 */
export function bindLayout({ legend, wrap, tabs, trainState }) {
  const stored = localStorage.getItem(LEGEND_STORE);
  const open = stored ? stored === "open"
    : wrap.clientWidth >= LEGEND_OPEN_MIN[0] && wrap.clientHeight >= LEGEND_OPEN_MIN[1];
  legend.classList.toggle("collapsed", !open);
  // The legend's title folds it (panels.js); this remembers the result.
  legend.addEventListener("click", () => {
    localStorage.setItem(LEGEND_STORE, legend.classList.contains("collapsed") ? "folded" : "open");
  });

  function showSide(side) {
    document.body.dataset.side = side;
    for (const tab of tabs) tab.setAttribute("aria-selected", String(tab.dataset.side === side));
  }
  for (const tab of tabs) tab.addEventListener("click", () => showSide(tab.dataset.side));

  const trainTab = tabs.find((tab) => tab.dataset.side === "train");
  new MutationObserver(() => {
    trainTab.dataset.busy = trainState.dataset.state === "idle" ? "" : "1";
  }).observe(trainState, { attributes: true, attributeFilter: ["data-state"] });
}
