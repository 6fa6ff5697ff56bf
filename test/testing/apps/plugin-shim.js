// Loads the validation plugin from the TypeScript sources, so these tests need no `npm run build`.
// A real project points cdk8s.yaml at the compiled plugin instead (see docs/testing.md).
require('ts-node').register({ transpileOnly: true, project: require('path').join(__dirname, '..', '..', '..', 'tsconfig.json') });
module.exports = require('../../../testing/plugin');
