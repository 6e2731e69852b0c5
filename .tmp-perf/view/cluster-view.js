export {};
//# sourceMappingURL=cluster-view.js.map