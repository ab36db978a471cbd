// ESLint flat config for the extension's sources (npm run lint).
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['dist/', 'model/', 'node_modules/'] },
  js.configs.recommended,
  {
    files: ['*.mjs', '*.js'],
    languageOptions: { sourceType: 'module', globals: globals.node },
  },
  {
    files: ['src/**/*.js'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: {
        ...globals.browser,
        ...globals.webextensions,
        ...globals.serviceworker,
      },
    },
    rules: {
      // the manifest's CSP forbids them anyway; fail at lint time, not at runtime
      'no-eval': 'error',
      'no-implied-eval': 'error',
      'no-new-func': 'error',
    },
  },
];
