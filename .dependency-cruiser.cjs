/**
 * Imports flow one way (docs/architecture.md, "Layers"):
 *   bin -> lib/infra and lib/local -> lib/description -> functions (entries) -> domain -> adapters.
 * `npm test` runs this before any test, so an import against the flow fails the build.
 */
const features = '^functions/(alerts|exports|notifications|realtime|topics)/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import goes in a circle.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'functions-stand-alone',
      severity: 'error',
      comment: 'Lambda code imports no infrastructure, no local runtime, no description: they import it.',
      from: { path: '^functions/' },
      to: { path: '^(bin|lib|test|bench|smoke|web)/' },
    },
    {
      name: 'lambda-bundles-stay-clean',
      severity: 'error',
      comment:
        'esbuild bundles what a function imports: never the CDK, cdk-nag, or the AGPL IAM simulator the local runtime uses (docs/local-iam.md).',
      from: { path: '^functions/' },
      to: { path: '^node_modules/(@cloud-copilot|aws-cdk-lib|cdk-nag|constructs)/' },
    },
    {
      name: 'shared-imports-no-feature',
      severity: 'error',
      comment: 'functions/shared holds what every feature uses; it knows no feature.',
      from: { path: '^functions/(shared|protocol)/' },
      to: { path: features },
    },
    {
      name: 'description-is-data',
      severity: 'error',
      comment: 'The description is read by the CDK and the local runtime; it imports neither, nor the CDK.',
      from: { path: '^lib/description/' },
      to: { path: ['^lib/(infra|local)/', '^node_modules/(aws-cdk-lib|constructs)/'] },
    },
    {
      name: 'infra-knows-no-local-runtime',
      severity: 'error',
      from: { path: '^lib/infra/' },
      to: { path: '^lib/local/' },
    },
    {
      name: 'local-runtime-reaches-functions-through-the-description',
      severity: 'error',
      comment:
        'The local runtime loads handlers by their description entries; it imports only the modules shared on purpose: the protocol, validation, and the Scheduler expression engine.',
      from: { path: '^lib/local/' },
      to: { path: '^functions/', pathNot: ['^functions/protocol/', '^functions/shared/validation[.]ts$', '^functions/exports/schedule[.]ts$'] },
    },
    {
      name: 'client-imports-only-the-protocol',
      severity: 'error',
      comment: 'The browser client shares the protocol definition with the server, nothing else.',
      from: { path: '^web/' },
      to: { path: '^(functions|lib|bin)/', pathNot: '^functions/protocol/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    // TypeScript 7's compiler has no JavaScript API; swc parses the sources instead.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: ['^web/client/dist/', '^cdk[.]out/'] },
    // Packages that only declare `exports` (ESM) resolve as Node resolves them.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
