export * from './db';
export * from './clients';
export * from './balances';
export * from './deposits';
export * from './adjustments';
export * from './transactions';
export * from './reservations';
export * from './verify-commission';
