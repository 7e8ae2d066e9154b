import { randomBytes } from 'node:crypto';

/** 128 random bits in base64url: 22 characters, unguessable, safe in a URL, a file name and an S3 key. */
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export function newArtifactId(): string {
  return randomBytes(16).toString('base64url');
}

export function isArtifactId(id: string): boolean {
  return ID_PATTERN.test(id);
}
