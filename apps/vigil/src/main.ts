import 'reflect-metadata';
import { main } from './vigil.cli';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
