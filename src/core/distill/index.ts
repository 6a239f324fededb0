export * from './python-env';
export * from './trainer';
export * from './environment-report';
