/**
 * Airflow REST API client interface (implemented in this file by the airflow-history work).
 * Placeholder: the analyser helpers reference it.
 */
export interface AirflowClient {
  readonly name: string;
}

/** Clients for the configured Airflow instances, by name; null for an unknown name. */
export function createAirflowClients(_config: import('../config.ts').Config, _log: import('pino').Logger): (name: string | undefined) => AirflowClient | null {
  return () => null;
}
