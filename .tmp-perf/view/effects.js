export {};
//# sourceMappingURL=effects.js.map