/** What the MeshPolicy's object builders share: the scope they create objects in and its naming. */
import { ApiObjectMetadata, Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import { MeshOptions } from './options';

export interface MeshContext {
  /** The MeshPolicy: every object is its child, so construct ids stay stable. */
  readonly scope: Construct;
  readonly namespace: string;
  readonly options: MeshOptions;
  /** Name, namespace and the common labels, plus `labels`. */
  metadata(name: string, labels?: Record<string, string>): ApiObjectMetadata;
  /** Records a warning on the MeshPolicy (and stderr). */
  warn(message: string): void;
}

// A value produced at synthesis, typed as the value (cdk8s resolves Lazy anywhere in props).
export function lazy<T>(produce: () => T): T {
  return Lazy.any({ produce }) as unknown as T;
}
