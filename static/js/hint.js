// The first screen of an untrained model: a short "what to do first" over the plot. It goes
// once the model has trained an epoch, or when the person closes it.

/**
 * @param {HTMLElement} node  the hint
 * @param {HTMLElement} close  its close button
 */
export function createFirstHint(node, close) {
  let dismissed = false;
  close.addEventListener("click", () => {
    dismissed = true;
    node.hidden = true;
  });
  return {
    /** Takes status.checkpoint: shown while the model has trained no epoch. */
    update(checkpoint) {
      if (!checkpoint) return;
      node.hidden = dismissed || (checkpoint.epochs_trained ?? 0) > 0;
    },
  };
}
