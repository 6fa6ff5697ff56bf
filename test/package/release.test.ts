import * as fs from 'node:fs';
import * as path from 'node:path';
import { SIDECAR_IMAGE_REPOSITORY, SIDECAR_VERSION } from '../../sidecar/contract';
import { DEFAULTS } from '../../constructs/spec';

// The release workflow tags the sidecar image with the package version; AgentService defaults to
// SIDECAR_VERSION. They must be the same or every user pod pulls an image that was never pushed.
const ROOT = path.resolve(__dirname, '..', '..');

test('SIDECAR_VERSION is the package version, and the default sidecar image uses it', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(SIDECAR_VERSION).toBe(pkg.version);
  expect(DEFAULTS.sidecar.image).toBe(`${SIDECAR_IMAGE_REPOSITORY}:${pkg.version}`);
});

test('the release workflow builds the multi-arch image from sidecar/Dockerfile and publishes with provenance', () => {
  const wf = fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8');
  expect(wf).toMatch(/tags: \['v\*\.\*\.\*'\]/);
  expect(wf).toContain('file: sidecar/Dockerfile');
  expect(wf).toContain('platforms: linux/amd64,linux/arm64');
  expect(wf).toContain('agent-sidecar:${{ steps.version.outputs.version }}');
  expect(wf).toContain('npm publish --provenance');
  expect(`${SIDECAR_IMAGE_REPOSITORY}`).toBe('ghcr.io/cdk8s-agents/agent-sidecar');
});

// `npm publish --provenance` refuses a package whose repository.url is not the GitHub repository the
// workflow runs in; the workflow pushes the image to ghcr.io/<that owner>. A fork changes both
// (package.json repository and SIDECAR_IMAGE_REPOSITORY), or its pods pull an image it never pushed.
test('repository.url names the GitHub owner of the default sidecar image, with homepage, bugs and keywords', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  expect(pkg.repository.type).toBe('git');
  const repo = /^git\+https:\/\/github\.com\/([^/]+)\/([^/]+?)\.git$/.exec(pkg.repository.url);
  expect(repo).not.toBeNull();
  const imageOwner = /^ghcr\.io\/([^/]+)\/agent-sidecar$/.exec(SIDECAR_IMAGE_REPOSITORY)?.[1];
  expect(repo![1]).toBe(imageOwner);
  expect(pkg.homepage).toBe(`https://github.com/${repo![1]}/${repo![2]}#readme`);
  expect(pkg.bugs.url).toBe(`https://github.com/${repo![1]}/${repo![2]}/issues`);
  expect(pkg.keywords).toEqual(expect.arrayContaining(['cdk8s', 'kubernetes']));
  const wf = fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8');
  expect(wf).toContain('ghcr.io/${{ github.repository_owner }}/agent-sidecar:');
});
