/**
 * An error the Docker face answers as the Docker Engine does: `{"message": "…"}` with the engine's
 * HTTP status (moby `api/server/httpstatus`). Route files throw it for Docker-specific refusals; the
 * face's error handler (create-docker-api.ts) also turns berth's coded errors into this shape.
 */
export class DockerApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'DockerApiError';
    this.status = status;
  }
}

/** 404 as the engine words it for a service: `service web not found`. */
export function serviceNotFound(idOrName: string): DockerApiError {
  return new DockerApiError(404, `service ${idOrName} not found`);
}
