// The package's main entry: the constructs and the whole-system layer built on them.
export * from './constructs';
export * from './system';
