import Foundation
import Inventory
import VMI

/// EC2 accounts: a 12-digit id and an access key whose secret the inventory keeps.
public enum Accounts {
    /// Creates an account (generated id and key), or imports one with its id, access key and secret. Refuses bad
    /// fields and taken ids or keys, naming the field.
    public static func create(_ request: CreateAccount, _ tx: InventoryTransaction, _ now: Date) throws -> AccountView {
        func bad(_ field: String, _ message: String) -> VMIError {
            VMIError(code: .invalidParameter, field: field, message: message)
        }
        guard (1...64).contains(request.name.count), !request.name.contains(where: \.isNewline) else {
            throw bad("name", "must be 1-64 characters on one line")
        }
        if let id = request.id, id.count != 12 || !id.allSatisfy(\.isASCII) || !id.allSatisfy(\.isNumber) {
            throw bad("id", "must be 12 digits, got '\(id)'")
        }
        guard (request.accessKey == nil) == (request.secret == nil) else {
            throw bad(request.accessKey == nil ? "accessKey" : "secret", "give both an access key and its secret, "
                + "or neither")
        }
        if let key = request.accessKey,
           !(16...128).contains(key.count) || !key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
            throw bad("accessKey", "must be 16-128 letters or digits")
        }
        if let secret = request.secret, !(16...128).contains(secret.count) || !secret.allSatisfy(\.isASCII)
            || secret.contains(where: \.isWhitespace) {
            throw bad("secret", "must be 16-128 ASCII characters without spaces")
        }
        let generated = ResourceID.accessKey()
        var account = AccountView(id: request.id ?? ResourceID.account(), name: request.name,
                                  accessKey: request.accessKey ?? generated.id, createdAt: now)
        let secret = request.secret ?? generated.secret
        do {
            try tx.createAccount(account, secret: secret)
        } catch let conflict as CloudResourceConflict {
            throw VMIError(code: .duplicateName, field: conflict.field,
                           message: conflict.field == "id" ? "an account with id '\(account.id)' exists"
                               : "the access key '\(account.accessKey)' is taken")
        }
        account.secret = secret
        return account
    }
}
