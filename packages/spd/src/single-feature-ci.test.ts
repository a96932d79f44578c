import { Rng } from '@nnd/core';
import { describe, expect, it } from 'vitest';
import { componentsAbove, denseOrder, featuresCaptured, featuresWithOwnComponent, identityCiError, identityOrder, permuteColumns, singleFeatureCausalImportances } from './single-feature-ci.js';
import { createSpd } from './spd-decomposition.js';
import { polygonTms, tmsTarget } from './tms.js';

/** Features 0, 1, 2 on components 2, 0, 3; component 1 dead. */
const clean = [
  [0, 0, 1, 0],
  [1, 0, 0, 0],
  [0, 0, 0, 0.95],
];

describe('causal importance per input feature', () => {
  it('identityOrder picks, feature by feature, the unused component with the highest CI (spd\u2019s greedy permute_to_identity)', () => {
    expect(identityOrder(clean)).toEqual([2, 0, 3, 1]);
    expect(permuteColumns(clean, identityOrder(clean))).toEqual([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 0.95, 0],
    ]);
    // Two features sharing their top component: the second takes its next best.
    expect(
      identityOrder([
        [0.9, 0.2, 0],
        [0.8, 0.3, 0.1],
      ]),
    ).toEqual([0, 1, 2]);
  });

  it('denseOrder puts the components with the most total CI first (spd\u2019s permute_to_dense)', () => {
    expect(
      denseOrder([
        [0.1, 1, 0, 0.5],
        [0.1, 1, 0, 0.6],
      ]),
    ).toEqual([1, 3, 0, 2]);
  });

  it('identityCiError counts spd\u2019s IdentityCIPattern distance: off-diagonal entries above 0.1 and diagonal ones below 0.9', () => {
    expect(identityCiError(clean)).toBe(0);
    expect(
      identityCiError([
        [0, 0, 1, 0.2],
        [0.8, 0, 0, 0],
        [0, 0, 0, 0.95],
      ]),
    ).toBe(2);
  });

  it('featuresWithOwnComponent counts features with exactly one component above 0.5 that no other feature uses', () => {
    expect(featuresWithOwnComponent(clean)).toBe(3);
    const shared = [
      [1, 0, 0],
      [1, 0, 0],
      [0, 0.7, 0.6],
      [0, 0, 0.9],
    ];
    expect(featuresWithOwnComponent(shared)).toBe(0);
    expect(featuresWithOwnComponent(shared.slice(3))).toBe(1);
    expect(featuresCaptured(shared)).toBe(4);
    expect(
      featuresCaptured([
        [0.4, 0.3],
        [0, 0.6],
      ]),
    ).toBe(1);
    expect(componentsAbove(clean, 0.1)).toBe(3);
    expect(componentsAbove(clean, 0.97)).toBe(2);
  });

  it('singleFeatureCausalImportances gives every module a [features, C] matrix of CIs in [0, 1]', () => {
    const spd = createSpd(tmsTarget(polygonTms(5)), {
      modules: [
        { name: 'linear1', C: 7 },
        { name: 'linear2', C: 4 },
      ],
    });
    const ci = singleFeatureCausalImportances(spd, spd.initialParams(new Rng(0)));
    expect(Object.keys(ci)).toEqual(['linear1', 'linear2']);
    expect(ci.linear1.map((row) => row.length)).toEqual([7, 7, 7, 7, 7]);
    expect(ci.linear2.map((row) => row.length)).toEqual([4, 4, 4, 4, 4]);
    for (const rows of Object.values(ci)) for (const row of rows) for (const value of row) expect(value >= 0 && value <= 1).toBe(true);
    // Different features give different CIs: the CI functions read h = x V, which depends on the feature.
    expect(ci.linear1[0]).not.toEqual(ci.linear1[1]);
  });
});
