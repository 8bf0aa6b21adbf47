// Which /api/status answers may still be applied. A status asked for before an event that
// changed the training state (train_ended, session_saved) describes the time before it: applied
// after the event it would put the page back (a finished, saved session shown as "saving" again).
// So an answer counts only if no later answer, and no such event, came since it was asked.

export function createStatusOrder() {
  let asked = 0;
  let known = 0; // answers to requests up to this one are older than what the page knows
  let answered = 0;

  return {
    /** A new request: its ticket. */
    ask() {
      asked += 1;
      return asked;
    },
    /** Whether the answer to ticket `ticket` is newer than what the page shows (it then is). */
    fresh(ticket) {
      answered += 1;
      if (ticket <= known) return false;
      known = ticket;
      return true;
    },
    /** An event told the page something newer than every answer still on its way. */
    overtaken() {
      known = asked;
    },
    /** How many answers were weighed (applied or dropped). */
    get answered() {
      return answered;
    },
  };
}
