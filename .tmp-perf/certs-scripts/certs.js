// Entry of `npm run certs -- --out DIR --service S --namespace N [--ca-cert F --ca-key F] [--previous-ca F]`.
// The logic is in ./generate.ts.
import { certsMain } from './generate.js';
process.exitCode = certsMain(process.argv.slice(2));
//# sourceMappingURL=certs.js.map