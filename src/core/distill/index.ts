export * from './python-env';
export * from './trainer';
export * from './events';
export * from './environment-report';
