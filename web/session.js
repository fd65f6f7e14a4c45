// Signing in and out, shared by both pages. A session comes from the account forms
// (account.js: email and password, with a refresh token), or, for developers, from a pasted
// token or a `#token=` link (the links `vetted serve --demo` prints). It lives in sessionStorage
// (one per role, so one tab can hold an owner and a moderator session on the two pages). The
// ID token is refreshed at 80% of its life, and once more when the API refuses it; sign-out
// ends the account's sessions on the server (`/auth/logout`) before the page forgets them.

import { $, h, api, tokenClaims } from "/assets/common.js";
import { createAccountForms, errorText, logout, refreshSession } from "/assets/account.js";

/** The share of a token's life after which it is refreshed. */
const REFRESH_AT = 0.8;
/** How soon a refresh that failed for a passing reason (no network, a 5xx) is tried again. */
const REFRESH_RETRY_MS = 30000;

const OTHER_PAGE = {
  owner: { group: "moderators", name: "a moderator's", href: "/moderate", page: "the moderator console" },
  moderator: { group: "owners", name: "an owner's", href: "/", page: "the owner page" },
};

/**
 * Wires the page's sign-in section (#signin, #signin-message, #signin-note, #account-forms,
 * and the developer's #signin-form with #token-input) and session chip (#session,
 * #session-user, #signout) to `role`. `onSignIn(token, claims)` starts the page; `onSignOut()`
 * stops its timers. Answers `{ token(), refuse(error), start() }`: call `start` once the page
 * is wired; pass every API error to `refuse`, which handles 401 (by refreshing the session, or
 * signing out) and 403 (signing out with a message), and answers true when it did.
 */
export function createSession({ role, onSignIn, onSignOut }) {
  const storageKey = `vetted.session.${role}`;
  const signin = $("#signin");
  const app = $("#app");
  const form = $("#signin-form");
  const input = $("#token-input");
  const message = $("#signin-message");
  const note = $("#signin-note");
  const chip = $("#session");
  const who = $("#session-user");
  const signOutButton = $("#signout");
  // While signed in: `{ id_token, access_token?, refresh_token?, expires_at? }`; a pasted
  // token has only the first.
  let current = null;
  let timer = null;
  let refreshing = null; // the refresh in flight, shared by whoever needs it
  let retried = null; // the ID token a refused request was refreshed to: refused again, sign out

  const forms = createAccountForms({
    root: $("#account-forms"),
    role,
    say: ({ error = [], note: words = [] }) => {
      show(message, error);
      show(note, words);
    },
    onTokens: (tokens) =>
      enter({
        id_token: tokens.id_token,
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: Date.now() + tokens.expires_in * 1000,
      }),
  });

  function show(box, parts) {
    box.replaceChildren(...parts);
    box.hidden = parts.length === 0;
  }

  /** Shows the sign-in form, with an `error` or a `note` above it. */
  function showSignIn({ error = [], note: words = [] } = {}) {
    current = null;
    app.hidden = true;
    chip.hidden = true;
    signin.hidden = false;
    forms.show("signin");
    show(message, error);
    show(note, words);
  }

  function remember(record) {
    try {
      sessionStorage.setItem(storageKey, JSON.stringify(record));
    } catch {
      // Not kept across reloads: the page still works until then.
    }
  }

  function stored() {
    try {
      const record = JSON.parse(sessionStorage.getItem(storageKey));
      if (record && typeof record.id_token === "string") return record;
    } catch {
      // Unreadable: as if there were none.
    }
    // Before accounts, the page kept a bare token here.
    const legacy = sessionStorage.getItem(`vetted.token.${role}`);
    sessionStorage.removeItem(`vetted.token.${role}`);
    return legacy ? { id_token: legacy } : null;
  }

  function expiresAt(record) {
    if (record.expires_at) return record.expires_at;
    const claims = tokenClaims(record.id_token);
    return claims && claims.exp ? claims.exp * 1000 : null;
  }

  /** Trades the refresh token for new tokens: answers the new record, or `{ error }`. */
  async function renew(record) {
    refreshing ??= refreshSession(record.refresh_token).finally(() => {
      refreshing = null;
    });
    try {
      const fresh = await refreshing;
      return {
        ...record,
        id_token: fresh.id_token,
        access_token: fresh.access_token,
        expires_at: Date.now() + fresh.expires_in * 1000,
      };
    } catch (error) {
      return { error };
    }
  }

  /** Whether a failed refresh may work later: the server was unreachable, busy or failing. */
  function passing(error) {
    return error.status === 0 || error.status === 429 || error.status >= 500;
  }

  /** Takes the refreshed tokens without restarting the page (it asks `token()` each time). */
  function adopt(record) {
    current = record;
    remember(record);
    schedule();
    describe(tokenClaims(record.id_token) || {});
  }

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (!current || !current.refresh_token) return;
    const until = (expiresAt(current) || Date.now()) - Date.now();
    timer = setTimeout(refreshInBackground, Math.max(5000, until * REFRESH_AT));
  }

  async function refreshInBackground() {
    const record = current;
    const result = await renew(record);
    if (current !== record) return; // signed out, or refreshed by someone else, meanwhile
    if (!result.error) {
      retried = null; // a later refusal may be refreshed once more
      adopt(result);
    } else if (passing(result.error)) {
      timer = setTimeout(refreshInBackground, REFRESH_RETRY_MS);
    } else {
      end({ error: [sessionEnded(result.error)] });
    }
  }

  function sessionEnded(error) {
    const words = errorText(error);
    return error.status === 401 ? words : `Your session could not be renewed: ${words} Sign in again.`;
  }

  function describe(claims) {
    who.replaceChildren(
      h("span", { class: "session-name" }, claims.email || claims.sub || "signed in"),
      h("span", { class: "session-role" }, role),
    );
    who.title = claims.exp ? `Signed in until ${new Date(claims.exp * 1000).toLocaleString()}` : "";
  }

  /** Signs in with `record`, refreshing it first if its ID token has expired. */
  async function enter(record) {
    let claims = tokenClaims(record.id_token);
    if (!claims) {
      showSignIn({ error: ["That does not look like a token: a token is three parts separated by dots."] });
      return;
    }
    if (claims.exp && claims.exp * 1000 < Date.now()) {
      if (!record.refresh_token) {
        sessionStorage.removeItem(storageKey);
        showSignIn({ error: [`That token expired ${new Date(claims.exp * 1000).toLocaleString()}. Get a new one.`] });
        return;
      }
      const result = await renew(record);
      if (result.error) {
        if (!passing(result.error)) sessionStorage.removeItem(storageKey);
        showSignIn({ error: [sessionEnded(result.error)] });
        return;
      }
      record = result;
      claims = tokenClaims(record.id_token) || {};
    }
    current = record;
    remember(record);
    schedule();
    signin.hidden = true;
    app.hidden = false;
    chip.hidden = false;
    describe(claims);
    input.value = "";
    onSignIn(record.id_token, claims);
  }

  /** Forgets the session here (the server is not told) and shows the sign-in form. */
  function end(text) {
    clearTimeout(timer);
    timer = null;
    retried = null;
    sessionStorage.removeItem(storageKey);
    onSignOut();
    showSignIn(text);
  }

  /** Tells the server to end every session of the account, then forgets it here. */
  async function signOut() {
    const record = current;
    let words = ["You have signed out."];
    if (record && record.access_token) {
      signOutButton.disabled = true;
      try {
        try {
          await logout(record.access_token);
        } catch (error) {
          // An access token that expired unnoticed (a sleeping laptop): renew it and try again.
          if (error.status !== 401 || !record.refresh_token) throw error;
          const renewed = await renew(record);
          if (renewed.error) throw renewed.error;
          await logout(renewed.access_token);
        }
      } catch (error) {
        if (error.status !== 401) {
          words = [`You have signed out on this page, but the server could not end your other sessions: ${errorText(error)}`];
        }
      } finally {
        signOutButton.disabled = false;
      }
    }
    end({ note: words });
  }

  /**
   * Whether the server refuses `record`'s ID token now. A refusal that arrives after the page
   * refreshed may answer a request made before, with the old token: this tells them apart.
   */
  async function refusedNow(record) {
    try {
      await api(record.id_token, "GET", "/api/policy");
      return false;
    } catch (error) {
      return error.status === 401;
    }
  }

  /** Handles the server refusing the token (401) or its role (403); answers whether it did. */
  function refuse(error) {
    if (error.status === 401) {
      const record = current;
      if (record && record.refresh_token && retried === record.id_token) {
        refusedNow(record).then((refused) => {
          if (refused && current === record) end({ error: ["The server did not accept your session. Sign in again."] });
        });
        return true;
      }
      if (record && record.refresh_token) {
        renew(record).then((result) => {
          if (current !== record) return;
          if (result.error) {
            end({ error: [sessionEnded(result.error)] });
            return;
          }
          // Refused again with these tokens: sign out rather than refresh forever.
          retried = result.id_token;
          adopt(result);
          // The page starts over with the new token: whatever was refused is asked again.
          onSignOut();
          onSignIn(result.id_token, tokenClaims(result.id_token) || {});
        });
        return true;
      }
      end({ error: ["The server did not accept this token: it has expired, or it was made for another server. Sign in with a new one."] });
      return true;
    }
    if (error.status === 403) {
      const claims = tokenClaims((current && current.id_token) || "") || {};
      const groups = claims["cognito:groups"] || [];
      const other = OTHER_PAGE[role];
      const what = current && current.refresh_token ? "account" : "token";
      const text = [`This ${what} is not ${role === "owner" ? "an owner's" : "a moderator's"}.`];
      if (groups.includes(other.group)) {
        text.push(` It is ${other.name}: use it on `, h("a", { href: other.href }, other.page), ".");
      }
      end({ error: text });
      return true;
    }
    return false;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim().replace(/^Bearer\s+/i, "");
    if (token) enter({ id_token: token });
    else show(message, ["Paste a token first."]);
  });
  signOutButton.addEventListener("click", () => signOut());

  /** Signs in with a token from `#token=` (the demo links); answers whether there was one. */
  function takeFragment() {
    const fragment = new URLSearchParams(location.hash.slice(1)).get("token");
    if (!fragment) return false;
    // Once read, the token leaves the address bar (and the history, and bookmarks).
    history.replaceState(null, "", location.pathname + location.search);
    if (current) {
      clearTimeout(timer);
      onSignOut();
    }
    enter({ id_token: fragment });
    return true;
  }

  /** Signs in from the fragment or the stored session, or shows the form. */
  function start() {
    // A link opened in a tab already on this page changes only the fragment: no reload.
    window.addEventListener("hashchange", takeFragment);
    if (takeFragment()) return;
    const record = stored();
    if (record) enter(record);
    else showSignIn();
  }

  return { token: () => (current ? current.id_token : null), refuse, start };
}
