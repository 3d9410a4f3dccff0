import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabelSelector, LabelSelectorRequirement, SelectorOperator } from './network-policy.js';
import { EMPTY_SELECTOR } from './network-policy.js';
import { parseLabelSelector, selectorMatches, selectorToString } from './selector.js';

function req(key: string, operator: SelectorOperator, ...values: string[]): LabelSelectorRequirement {
  return { key, operator, values };
}

function sel(matchLabels: Record<string, string>, ...matchExpressions: LabelSelectorRequirement[]) {
  return { matchLabels, matchExpressions } satisfies LabelSelector;
}

function parse(raw: unknown): { got: LabelSelector | undefined; problems: string[] } {
  const problems: string[] = [];
  return { got: parseLabelSelector(raw, 'spec.podSelector', problems), problems };
}

describe('selectorMatches', () => {
  const web = { app: 'web', tier: 'front' };
  const cases: { name: string; sel: LabelSelector; labels: Record<string, string>; want: boolean }[] = [
    { name: 'empty selector matches labels', sel: EMPTY_SELECTOR, labels: web, want: true },
    { name: 'empty selector matches no labels', sel: EMPTY_SELECTOR, labels: {}, want: true },
    { name: 'matchLabels equal', sel: sel({ app: 'web' }), labels: web, want: true },
    { name: 'matchLabels differ', sel: sel({ app: 'db' }), labels: web, want: false },
    { name: 'matchLabels key missing', sel: sel({ env: 'prod' }), labels: web, want: false },
    { name: 'matchLabels all must hold', sel: sel({ app: 'web', tier: 'back' }), labels: web, want: false },
    { name: 'matchLabels empty value vs absent', sel: sel({ env: '' }), labels: web, want: false },
    { name: 'matchLabels empty value present', sel: sel({ env: '' }), labels: { env: '' }, want: true },
    { name: 'In holds', sel: sel({}, req('app', 'In', 'db', 'web')), labels: web, want: true },
    { name: 'In other value', sel: sel({}, req('app', 'In', 'db')), labels: web, want: false },
    { name: 'In key missing', sel: sel({}, req('env', 'In', 'prod')), labels: web, want: false },
    { name: 'NotIn other value', sel: sel({}, req('app', 'NotIn', 'db')), labels: web, want: true },
    { name: 'NotIn listed value', sel: sel({}, req('app', 'NotIn', 'web')), labels: web, want: false },
    { name: 'NotIn key missing matches', sel: sel({}, req('env', 'NotIn', 'prod')), labels: web, want: true },
    { name: 'Exists present', sel: sel({}, req('app', 'Exists')), labels: web, want: true },
    { name: 'Exists missing', sel: sel({}, req('env', 'Exists')), labels: web, want: false },
    { name: 'DoesNotExist missing', sel: sel({}, req('env', 'DoesNotExist')), labels: web, want: true },
    { name: 'DoesNotExist present', sel: sel({}, req('app', 'DoesNotExist')), labels: web, want: false },
    {
      name: 'labels and expressions together',
      sel: sel({ app: 'web' }, req('tier', 'In', 'front'), req('legacy', 'DoesNotExist')),
      labels: web,
      want: true,
    },
    {
      name: 'one failing expression fails the selector',
      sel: sel({ app: 'web' }, req('tier', 'In', 'front'), req('app', 'NotIn', 'web')),
      labels: web,
      want: false,
    },
    {
      name: 'inherited keys are not labels',
      sel: sel({}, req('constructor', 'Exists')),
      labels: {},
      want: false,
    },
    {
      name: 'inherited keys are absent for NotIn',
      sel: sel({}, req('toString', 'NotIn', 'x')),
      labels: {},
      want: true,
    },
    { name: 'out of contract: In without values', sel: sel({}, req('app', 'In')), labels: web, want: false },
    {
      name: 'out of contract: NotIn without values',
      sel: sel({}, req('x', 'NotIn')),
      labels: web,
      want: false,
    },
    {
      name: 'out of contract: Exists with values',
      sel: sel({}, req('app', 'Exists', 'web')),
      labels: web,
      want: false,
    },
    {
      name: 'out of contract: unknown operator',
      sel: sel({}, { key: 'app', operator: 'Gt' as SelectorOperator, values: [] }),
      labels: web,
      want: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(selectorMatches(c.sel, c.labels), c.want));
  }
});

describe('selectorToString', () => {
  const cases: [string, LabelSelector, string][] = [
    ['empty', EMPTY_SELECTOR, '<none>'],
    ['matchLabels sorted by key', sel({ tier: 'front', app: 'web' }), 'app=web,tier=front'],
    [
      'every operator, sorted by key, values sorted and unique',
      sel(
        { app: 'web' },
        req('tier', 'In', 'b', 'a', 'b'),
        req('legacy', 'DoesNotExist'),
        req('env', 'NotIn', 'test', 'dev'),
        req('canary', 'Exists'),
      ),
      'app=web,canary,env notin (dev,test),!legacy,tier in (a,b)',
    ],
    ['same key: by text', sel({ app: 'web' }, req('app', 'Exists')), 'app,app=web'],
    [
      'prefixed key',
      sel({}, req('kubernetes.io/metadata.name', 'In', 'shop')),
      'kubernetes.io/metadata.name in (shop)',
    ],
  ];
  for (const [name, s, want] of cases) {
    it(name, () => assert.equal(selectorToString(s), want));
  }
});

describe('parseLabelSelector accepts', () => {
  const cases: [string, unknown, LabelSelector | undefined][] = [
    ['absent', undefined, undefined],
    ['null', null, undefined],
    ['empty object', {}, EMPTY_SELECTOR],
    ['null fields', { matchLabels: null, matchExpressions: null }, EMPTY_SELECTOR],
    [
      'matchLabels',
      { matchLabels: { app: 'web', 'example.com/tier': '' } },
      sel({ app: 'web', 'example.com/tier': '' }),
    ],
    [
      'every operator',
      {
        matchExpressions: [
          { key: 'a', operator: 'In', values: ['x', 'y'] },
          { key: 'b', operator: 'NotIn', values: ['z'] },
          { key: 'c', operator: 'Exists' },
          { key: 'd', operator: 'DoesNotExist', values: [] },
          { key: 'e', operator: 'Exists', values: null },
        ],
      },
      sel(
        {},
        req('a', 'In', 'x', 'y'),
        req('b', 'NotIn', 'z'),
        req('c', 'Exists'),
        req('d', 'DoesNotExist'),
        req('e', 'Exists'),
      ),
    ],
  ];
  for (const [name, raw, want] of cases) {
    it(name, () => assert.deepStrictEqual(parse(raw), { got: want, problems: [] }));
  }
});

describe('parseLabelSelector rejects', () => {
  const P = 'spec.podSelector';
  const cases: [string, unknown, string[]][] = [
    ['a string', 'app=web', [`${P}: must be a label selector object, got "app=web"`]],
    ['a list', [], [`${P}: must be a label selector object, got []`]],
    ['labels written directly', { app: 'web' }, [`${P}.app: unknown field`]],
    [
      'matchLabels not a map',
      { matchLabels: ['app'] },
      [`${P}.matchLabels: must be a map of label keys to values, got ["app"]`],
    ],
    [
      'bad label key and values',
      { matchLabels: { 'bad key': 'x', app: 'no spaces', n: 1 } },
      [
        `${P}.matchLabels: key "bad key" is not a valid label key`,
        `${P}.matchLabels["app"]: value "no spaces" is not a valid label value`,
        `${P}.matchLabels["n"]: value 1 is not a valid label value`,
      ],
    ],
    [
      'label value too long',
      { matchLabels: { a: 'x'.repeat(64) } },
      [`${P}.matchLabels["a"]: value "${'x'.repeat(64)}" is not a valid label value`],
    ],
    [
      'matchExpressions not a list',
      { matchExpressions: {} },
      [`${P}.matchExpressions: must be a list, got {}`],
    ],
    [
      'unknown operator',
      {
        matchExpressions: [
          { key: 'a', operator: 'Exists' },
          { key: 'b', operator: 'Contains', values: ['x'] },
        ],
      },
      [`${P}.matchExpressions[1].operator: "Contains" is not one of In, NotIn, Exists, DoesNotExist`],
    ],
    [
      'missing operator and key',
      { matchExpressions: [{}] },
      [
        `${P}.matchExpressions[0].key: undefined is not a valid label key`,
        `${P}.matchExpressions[0].operator: undefined is not one of In, NotIn, Exists, DoesNotExist`,
      ],
    ],
    [
      'In without values',
      { matchExpressions: [{ key: 'a', operator: 'In' }] },
      [`${P}.matchExpressions[0].values: undefined must be non-empty when operator is In`],
    ],
    [
      'NotIn with empty values',
      { matchExpressions: [{ key: 'a', operator: 'NotIn', values: [] }] },
      [`${P}.matchExpressions[0].values: [] must be non-empty when operator is NotIn`],
    ],
    [
      'Exists with values',
      { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
      [`${P}.matchExpressions[0].values: ["x"] must be empty when operator is Exists`],
    ],
    [
      'DoesNotExist with values',
      { matchExpressions: [{ key: 'a', operator: 'DoesNotExist', values: ['x'] }] },
      [`${P}.matchExpressions[0].values: ["x"] must be empty when operator is DoesNotExist`],
    ],
    [
      'values not a list',
      { matchExpressions: [{ key: 'a', operator: 'In', values: 'x' }] },
      [`${P}.matchExpressions[0].values: must be a list of label values, got "x"`],
    ],
    [
      'bad values and key',
      { matchExpressions: [{ key: '-a', operator: 'In', values: ['ok', 'not ok', 3] }] },
      [
        `${P}.matchExpressions[0].key: "-a" is not a valid label key`,
        `${P}.matchExpressions[0].values[1]: "not ok" is not a valid label value`,
        `${P}.matchExpressions[0].values[2]: 3 is not a valid label value`,
      ],
    ],
    [
      'expression not an object',
      { matchExpressions: [null] },
      [`${P}.matchExpressions[0]: must be an object with key and operator, got null`],
    ],
    [
      'unknown expression field',
      { matchExpressions: [{ key: 'a', operator: 'Exists', value: 'x' }] },
      [`${P}.matchExpressions[0].value: unknown field`],
    ],
    [
      'label key name too long',
      { matchExpressions: [{ key: `a/${'b'.repeat(64)}`, operator: 'Exists' }] },
      [`${P}.matchExpressions[0].key: "a/${'b'.repeat(64)}" is not a valid label key`],
    ],
  ];
  for (const [name, raw, want] of cases) {
    it(name, () => assert.deepStrictEqual(parse(raw), { got: undefined, problems: want }));
  }
  it('appends to the problems it is given', () => {
    const problems = ['earlier'];
    parseLabelSelector({ x: 1 }, 'p', problems);
    assert.deepStrictEqual(problems, ['earlier', 'p.x: unknown field']);
  });
});
