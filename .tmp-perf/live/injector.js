export class LiveInjector {
    view;
    requestInjection;
    clock;
    constructor(view, requestInjection, clock = Date.now) {
        this.view = view;
        this.requestInjection = requestInjection;
        this.clock = clock;
    }
    schedule(namespace) {
        if (typeof namespace !== 'string' || namespace === '')
            return;
        this.view.markPending(namespace, this.clock());
        this.requestInjection(namespace);
    }
}
//# sourceMappingURL=injector.js.map