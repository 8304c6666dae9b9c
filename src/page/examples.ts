// Copyright 2026 the mpreg authors. MIT license.
/**
 * The texts the page offers in its request box.
 *
 * @module
 */

/** Shown in the request box at first: the quick demo's shape, with the built-ins every node has. */
export const EXAMPLE_STEPS: string = `# Dependent steps, resolved on the node in one round trip.
# A step uses another's result by naming it in its args.
- { name: first, fun: echo, args: [10] }
- { name: second, fun: echo, args: [20] }
- { name: both, fun: echos, args: [first, second] }
- { name: final, fun: echos, args: [Final Answer, both] }
`;

/** The original MPREG quick demo (`examples/steps.yaml`), offered when a node has its functions. */
export const DEMO_STEPS: string = `# The original MPREG quick demo (examples/functions.ts).
- { name: sum1, fun: add, args: [10, 20] }
- { name: sum2, fun: add, args: [5, 15] }
- { name: total, fun: add, args: [sum1, sum2] }
- { name: doubled, fun: multiply, args: [total, 3] }
- { name: final, fun: format, args: [doubled, Final Answer] }
`;
