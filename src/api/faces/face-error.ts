/** A refusal in a face's own answer shape: its HTTP status, body and headers (Retry-After...). */
export interface FaceError {
  statusCode: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}
