// A checkbox that turns one kind of email on or off for the signed-in user: owners' outcome
// emails (`/api/me/notifications`) on the owner page, moderators' escalation emails
// (`/api/me/escalations`) in the console. The address is the one in the user's own verified
// token; the API refuses to take one from the page. The box shows what the server stored, and
// goes back to it when a change is refused, with the reason in words beside it.

import { $, api } from "/assets/common.js";

/**
 * Wires the checkbox `#${id}` and its message `#${id}-note` to `path`. Call `load(token)` after
 * sign-in; `reset()` on sign-out.
 */
export function emailToggle({ id, path, token }) {
  const box = $(`#${id}`);
  const note = $(`#${id}-note`);
  let generation = 0;

  function say(text, tone = "hint") {
    note.textContent = text || "";
    note.className = tone === "error" ? "toggle-note toggle-error" : "toggle-note";
    note.hidden = !text;
  }

  function show(data) {
    box.checked = Boolean(data.enabled);
    box.title = data.address ? `Emails go to ${data.address}` : "";
    say(data.enabled && data.address ? `To ${data.address}` : "");
  }

  async function load() {
    const mine = ++generation;
    box.disabled = true;
    try {
      const { data } = await api(token(), "GET", path);
      if (mine === generation) show(data);
    } catch (error) {
      if (mine !== generation) return;
      // A deployment that sends no email has no such route: nothing to offer.
      if (error.status === 404) box.closest(".toggle-wrap").hidden = true;
      else say(`Email settings unavailable: ${error.message}`, "error");
    } finally {
      if (mine === generation) box.disabled = false;
    }
  }

  box.addEventListener("change", async () => {
    const wanted = box.checked;
    const mine = ++generation;
    box.disabled = true;
    try {
      const { data } = await api(token(), "PUT", path, { enabled: wanted });
      if (mine === generation) show(data);
    } catch (error) {
      if (mine !== generation) return;
      box.checked = !wanted;
      const why = error.reason === "no_email_in_token"
        ? "Your sign-in carries no verified email address. Sign in with your account (not a pasted token) to get emails."
        : error.message;
      say(why, "error");
    } finally {
      if (mine === generation) box.disabled = false;
    }
  });

  return {
    load,
    reset() {
      generation += 1;
      box.checked = false;
      say("");
    },
  };
}
