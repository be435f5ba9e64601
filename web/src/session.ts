import { createContext, useContext } from 'react';
import { api, ApiError, type Identity } from './api.ts';

export interface Session {
  token: string;
  identity: Identity;
  signOut: (message?: string) => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in screen');
  return session;
}

/** GET through the session's token; a 401 (token revoked meanwhile) signs out. */
export function useGet() {
  const { token, signOut } = useSession();
  return async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
    try {
      return await api<T>(token, 'GET', path, signal);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) signOut(`Signed out: ${error.message}`);
      throw error;
    }
  };
}
