// Signing in and out, shared by both pages. The token lives in sessionStorage (one per role,
// so one tab can hold an owner and a moderator session on the two pages), arrives once through
// `#token=` (the links `vetted serve --demo` prints) or the sign-in form, and is dropped on
// sign-out or when the server refuses it.

import { $, h, tokenClaims } from "/assets/common.js";

const OTHER_PAGE = {
  owner: { group: "moderators", name: "a moderator's", href: "/moderate", page: "the moderator console" },
  moderator: { group: "owners", name: "an owner's", href: "/", page: "the owner page" },
};

/**
 * Wires the page's sign-in form (#signin, #signin-form, #token-input, #signin-message) and
 * session chip (#session, #session-user, #signout) to `role`. `onSignIn(token, claims)` starts
 * the page; `onSignOut()` stops its timers. Answers `{ token(), refuse(error), start() }`: call
 * `start` once the page is wired; pass every API error to `refuse`, which handles 401 and 403
 * (and answers true) by signing out with a message.
 */
export function createSession({ role, onSignIn, onSignOut }) {
  const storageKey = `vetted.token.${role}`;
  const signin = $("#signin");
  const app = $("#app");
  const form = $("#signin-form");
  const input = $("#token-input");
  const message = $("#signin-message");
  const chip = $("#session");
  const who = $("#session-user");
  let current = null;

  function showSignIn(...text) {
    current = null;
    app.hidden = true;
    chip.hidden = true;
    signin.hidden = false;
    message.replaceChildren(...text);
    message.hidden = text.length === 0;
    input.focus();
  }

  function enter(token) {
    const claims = tokenClaims(token);
    if (!claims) {
      showSignIn("That does not look like a token: a token is three parts separated by dots.");
      return;
    }
    if (claims.exp && claims.exp * 1000 < Date.now()) {
      sessionStorage.removeItem(storageKey);
      showSignIn(`That token expired ${new Date(claims.exp * 1000).toLocaleString()}. Get a new one.`);
      return;
    }
    current = token;
    sessionStorage.setItem(storageKey, token);
    signin.hidden = true;
    app.hidden = false;
    chip.hidden = false;
    who.replaceChildren(
      h("span", { class: "session-name" }, claims.sub || "signed in"),
      h("span", { class: "session-role" }, role),
    );
    if (claims.exp) who.title = `Token valid until ${new Date(claims.exp * 1000).toLocaleString()}`;
    input.value = "";
    onSignIn(token, claims);
  }

  function signOut(...text) {
    sessionStorage.removeItem(storageKey);
    onSignOut();
    showSignIn(...text);
  }

  /** Signs out when the server refused the token (401) or its role (403); answers whether it did. */
  function refuse(error) {
    if (error.status === 401) {
      signOut("The server did not accept this token: it has expired, or it was made for another server. Sign in with a new one.");
      return true;
    }
    if (error.status === 403) {
      const claims = tokenClaims(current || "") || {};
      const groups = claims["cognito:groups"] || [];
      const other = OTHER_PAGE[role];
      const text = [`This token is not ${role === "owner" ? "an owner's" : "a moderator's"}.`];
      if (groups.includes(other.group)) {
        text.push(` It is ${other.name}: use it on `, h("a", { href: other.href }, other.page), ".");
      }
      signOut(...text);
      return true;
    }
    return false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim().replace(/^Bearer\s+/i, "");
    if (token) enter(token);
    else showSignIn("Paste a token first.");
  });
  $("#signout").addEventListener("click", () => signOut("You have signed out."));

  /** Signs in with a token from `#token=` (the demo links); answers whether there was one. */
  function takeFragment() {
    const fragment = new URLSearchParams(location.hash.slice(1)).get("token");
    if (!fragment) return false;
    // Once read, the token leaves the address bar (and the history, and bookmarks).
    history.replaceState(null, "", location.pathname + location.search);
    if (current) onSignOut();
    enter(fragment);
    return true;
  }

  /** Signs in from the fragment or the stored token, or shows the form. */
  function start() {
    // A link opened in a tab already on this page changes only the fragment: no reload.
    window.addEventListener("hashchange", takeFragment);
    if (takeFragment()) return;
    if (sessionStorage.getItem(storageKey)) {
      enter(sessionStorage.getItem(storageKey));
    } else {
      showSignIn();
    }
  }

  return { token: () => current, refuse, start };
}
