export * from './python-env';
export * from './trainer';
