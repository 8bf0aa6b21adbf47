// The Report button: the server writes the static report of the saved model into the
// workspace (POST /api/report, seconds of work off its event loop) and the page opens it.
// The tab is opened at the click, while the browser still counts it as the person's action
// (a tab opened after a slow request would be blocked as a pop-up), and sent on when written.

/** "artifacts/mnist/report.html (1.2 MB, 3.4 s)"-style words for a written report. */
export function reportNote(answer) {
  const mb = typeof answer.bytes === "number" ? `${(answer.bytes / 1e6).toFixed(1)} MB` : "";
  const s = typeof answer.seconds === "number" ? `${answer.seconds.toFixed(1)} s` : "";
  const facts = [mb, s].filter(Boolean).join(", ");
  return `Report written to ${answer.path}${facts ? ` (${facts})` : ""}.`;
}

/**
 * @param {object} deps  {button, note, writeReport(): Promise, openTab(): Window|null}
 */
export function createReportButton({ button, note, writeReport, openTab }) {
  async function write() {
    if (button.disabled) return;
    button.disabled = true;
    note.hidden = false;
    note.classList.remove("failed");
    note.textContent = "Writing the report…";
    const tab = openTab();
    if (tab) tab.document.title = "alctl report: writing…";
    try {
      const answer = await writeReport();
      note.textContent = `${reportNote(answer)} `;
      const link = document.createElement("a");
      link.href = answer.url;
      link.target = "_blank";
      link.textContent = "Open it";
      note.append(link);
      if (tab && !tab.closed) tab.location.href = answer.url;
    } catch (error) {
      tab?.close();
      note.textContent = `The report could not be written: ${error.message}`;
      note.classList.add("failed");
    } finally {
      button.disabled = false;
    }
  }
  button.addEventListener("click", write);
  return { write };
}
