import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calicoSelectorMatches, parseCalicoSelector, type SelectorSubject } from './calico-selector.js';

const pod = (labels: Record<string, string>): SelectorSubject => ({ labels, namespaced: true });
const host = (labels: Record<string, string>): SelectorSubject => ({ labels, namespaced: false });

function matches(selector: string, subject: SelectorSubject): boolean {
  const r = parseCalicoSelector(selector);
  assert.ok(r.ok, `${selector}: ${r.ok ? '' : r.error}`);
  return calicoSelectorMatches(r.selector, subject);
}

describe('Calico selectors: every operator', () => {
  const web = pod({ app: 'web', tier: 'front', 'example.com/role': 'edge-proxy' });
  const cases: [string, SelectorSubject, boolean][] = [
    ['', web, true],
    ['all()', web, true],
    ['global()', web, false],
    ['global()', host({}), true],
    ['has(app)', web, true],
    ['has(env)', web, false],
    ['!has(env)', web, true],
    ["app == 'web'", web, true],
    ['app == "web"', web, true],
    ["app == 'db'", web, false],
    ["app != 'db'", web, true],
    ["env != 'prod'", web, true], // absent: != matches (Calico's docs)
    ["app != 'web'", web, false],
    ["app in {'web', 'db'}", web, true],
    ["app in {'db'}", web, false],
    ['app in {}', web, false],
    ["env in {'prod'}", web, false],
    ["app not in {'db'}", web, true],
    ["env not in {'prod'}", web, true], // absent: not in matches
    ["app not in {'web'}", web, false],
    ["example.com/role contains 'proxy'", web, true],
    ["example.com/role starts with 'edge'", web, true],
    ["example.com/role ends with 'proxy'", web, true],
    ["example.com/role ends with 'edge'", web, false],
    ["env contains ''", web, false], // absent: no string operator matches
    ["all == 'x'", pod({ all: 'x' }), true], // a key named like a function
    ["has == 'x'", pod({ has: 'x' }), true],
  ];
  for (const [selector, subject, want] of cases) {
    it(`${selector || '(empty)'} → ${want}`, () => assert.equal(matches(selector, subject), want));
  }
});

describe('Calico selectors: precedence and grouping', () => {
  const s = pod({ a: '1', b: '2' });
  const cases: [string, boolean][] = [
    // ! binds tighter than &&, && tighter than ||.
    ["a == '1' || a == '9' && b == '9'", true], // a==1 || (a==9 && b==9)
    ["(a == '1' || a == '9') && b == '9'", false],
    ['!has(a) || has(b)', true], // (!has(a)) || has(b)
    ['!(has(a) || has(c))', false],
    ['!has(a) && has(b)', false],
    ['!!has(a)', true],
    ['has(a) && has(b) && !has(c)', true],
    ["has(c) || has(d) || b == '2'", true],
    ["((a == '1'))", true],
    ["  has(a)   &&   b   ==   '2'  ", true],
  ];
  for (const [selector, want] of cases) {
    it(`${selector} → ${want}`, () => assert.equal(matches(selector, s), want));
  }
});

describe('Calico selectors: bad input names the position', () => {
  const cases: [string, RegExp][] = [
    [
      "app = 'web'",
      /at character 5: expected "==", "!=", "in", "not in", "contains", "starts with" or "ends with", found "= 'web'"/,
    ],
    ['app == web', /at character 8: expected a quoted string, found "web"/],
    ["app == 'web", /at character 8: expected a closing '/],
    ['has(app', /at character 8: expected "\)", found the end/],
    ['has app', /at character 5: expected "==", "!=", "in"/],
    ["app in {'a' 'b'}", /at character 13: expected "\}", found "'b'\}"/],
    ["app not {'a'}", /at character 9: expected "in"/],
    ['has(a) &&', /at character 10: expected a label key, found the end/],
    ['has(a) has(b)', /at character 8: expected "&&", "\|\|" or the end, found "has\(b\)"/],
    ['(has(a)', /at character 8: expected "\)", found the end/],
    ["app starts 'x'", /at character 12: expected "with"/],
    ['all(x)', /at character 5: expected "\)", found "x\)"/],
  ];
  for (const [selector, error] of cases) {
    it(selector, () => {
      const r = parseCalicoSelector(selector);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.error, error);
    });
  }
});
