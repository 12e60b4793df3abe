/**
 * challenge — reads `WWW-Authenticate` (RFC 9110 §11.6.1): a list of challenges, each an
 * auth-scheme followed by a token68 or comma-separated `name=value` parameters whose
 * values are tokens or quoted-strings (commas and escaped quotes allowed inside quotes).
 * Several header lines arrive joined with `', '`, which the same grammar reads. Empty
 * list elements (`,,`, RFC 9110 §5.6.1) are skipped wherever a list element may stand,
 * also between the scheme and its first parameter.
 *
 * Invariants: never throws — what cannot be read ends the parse, keeping the challenges
 * read so far; scheme and parameter names are lower-cased; a repeated parameter keeps
 * its first value; the parameter record has a null prototype.
 */

/** One challenge of a `WWW-Authenticate` header. */
export interface AuthChallenge {
  /** Lower-cased auth-scheme, e.g. `bearer`. */
  scheme: string;
  /** Parameters by lower-cased name (quoted values unescaped). */
  params: Record<string, string>;
  /** A token68 credential in place of parameters, if any. */
  token68: string | undefined;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*/;

/** Parses every challenge of a `WWW-Authenticate` value. */
export function parseChallenges(value: string): AuthChallenge[] {
  const out: AuthChallenge[] = [];
  const p = { s: value, i: 0 };
  for (;;) {
    skip(p, /[ \t,]/);
    if (p.i >= p.s.length) return out;
    const scheme = token(p);
    if (scheme === '') return out;
    const ch: AuthChallenge = { scheme: scheme.toLowerCase(), params: Object.create(null) as Record<string, string>, token68: undefined };
    out.push(ch);
    skip(p, /[ \t]/);
    // Empty list elements before the first parameter (`Bearer ,,realm="r"`, RFC 9110
    // §5.6.1: a recipient accepts them): a `name=` after them is still this challenge's.
    if (p.s[p.i] === ',') {
      const save = p.i;
      skip(p, /[ \t,]/);
      if (!isParamAt(p)) p.i = save;
    }
    // token68: a credential that is not `name=value` (its '=' are trailing padding).
    const t68 = TOKEN68.exec(p.s.slice(p.i));
    if (t68 !== null && !isParamAt(p) && endsItem(p.s, p.i + t68[0].length)) {
      ch.token68 = t68[0];
      p.i += t68[0].length;
      continue;
    }
    // Parameters until the next item is not `name=`.
    while (isParamAt(p)) {
      const name = token(p).toLowerCase();
      skip(p, /[ \t]/);
      p.i++; // '='
      skip(p, /[ \t]/);
      const v = p.s[p.i] === '"' ? quoted(p) : token(p);
      if (v === undefined) return out;
      if (!(name in ch.params)) ch.params[name] = v;
      skip(p, /[ \t]/);
      if (p.s[p.i] !== ',') break;
      // After a comma: another parameter of this challenge, or the next challenge.
      const save = p.i;
      skip(p, /[ \t,]/);
      if (!isParamAt(p)) {
        p.i = save;
        break;
      }
    }
  }
}

/** Whether a `name =` parameter starts at the cursor. */
function isParamAt(p: { s: string; i: number }): boolean {
  let j = p.i;
  while (j < p.s.length && TCHAR.test(p.s[j]!)) j++;
  if (j === p.i) return false;
  while (p.s[j] === ' ' || p.s[j] === '\t') j++;
  // `name=` but not `token68==`-style padding run at an item's end.
  return p.s[j] === '=' && !/^=+\s*(,|$)/.test(p.s.slice(j));
}

function endsItem(s: string, j: number): boolean {
  while (s[j] === ' ' || s[j] === '\t') j++;
  return j >= s.length || s[j] === ',';
}

function skip(p: { s: string; i: number }, re: RegExp): void {
  while (p.i < p.s.length && re.test(p.s[p.i]!)) p.i++;
}

function token(p: { s: string; i: number }): string {
  const start = p.i;
  while (p.i < p.s.length && TCHAR.test(p.s[p.i]!)) p.i++;
  return p.s.slice(start, p.i);
}

/** A quoted-string at the cursor, unescaped; undefined when it never closes. */
function quoted(p: { s: string; i: number }): string | undefined {
  let out = '';
  for (let j = p.i + 1; j < p.s.length; j++) {
    const c = p.s[j]!;
    if (c === '\\' && j + 1 < p.s.length) {
      out += p.s[++j];
    } else if (c === '"') {
      p.i = j + 1;
      return out;
    } else {
      out += c;
    }
  }
  return undefined;
}
