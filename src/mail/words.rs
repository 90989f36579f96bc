//! The words of the mail the shop sends, in each language it writes them in: English (the
//! fallback), German, French and Spanish.
//!
//! A mail is written in its reader's language: an order's mail in the language the order
//! was placed in (its customer's, else the one the shopper's request chose), a password
//! reset's in the customer's. A language the shop sells in but has no words for here
//! (`pt-BR`, say) is written in English; a regional tag takes its language's words
//! (`de-AT` → German). Amounts are written as the language writes them: `12.50 USD`,
//! `12,50 EUR`; a currency without a minor unit in use has no decimals (`1500 JPY`).
//!
//! Each text is a template whose `{name}` places [`say`] fills.

use crate::domain::currencies::minor_digits;

/// A language the mail is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
    Fr,
    Es,
}

impl Lang {
    /// The words for a language tag (`None`: the shop's default language, whose words are
    /// those of its tag when the default is given as `default`).
    pub fn of(tag: Option<&str>, default: &str) -> Lang {
        let tag = tag.unwrap_or(default);
        match tag.split('-').next().unwrap_or(tag) {
            "de" => Lang::De,
            "fr" => Lang::Fr,
            "es" => Lang::Es,
            _ => Lang::En,
        }
    }

    /// The words for a reader's language `tag` in a shop whose `locales` setting is
    /// `locales` (`None`: the shop's default language).
    pub fn in_shop(tag: Option<&str>, locales: &str) -> Lang {
        Lang::of(tag, crate::domain::locale::enabled(locales).first().copied().unwrap_or("en"))
    }

    /// The language's tag (`de`).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// `minor` of `currency` as this language writes an amount: `1,234.50 EUR` in English,
    /// `1234,50 EUR` elsewhere (no grouping: a mail is read as text).
    pub fn amount(self, minor: i64, currency: &str) -> String {
        let sign = if minor < 0 { "-" } else { "" };
        let m = minor.unsigned_abs();
        if minor_digits(currency) == 0 {
            return format!("{sign}{m} {currency}");
        }
        let point = if self == Lang::En { '.' } else { ',' };
        format!("{sign}{}{point}{:02} {currency}", m / 100, m % 100)
    }
}

/// A text of the mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum W {
    ConfirmSubject,
    ConfirmThanks,
    PaidByCard,
    ToPayReserved,
    NothingLeft,
    ReceiptSubject,
    ReceiptBody,
    ReceiptGift,
    ShippedSubject,
    ShippedPartSubject,
    ShippedBody,
    ShippedPartBody,
    Carrier,
    Tracking,
    FollowIt,
    MoreToFollow,
    RefundSubject,
    RefundBody,
    RefundFor,
    RefundAllCard,
    RefundPartCard,
    RefundBank,
    EditSubject,
    EditBody,
    EditRemoved,
    EditAdded,
    EditToPay,
    EditGiveBack,
    EditNothing,
    EditLeft,
    DraftBody,
    DraftPayLink,
    DraftPaid,
    NewLinkSubject,
    NewLinkBody,
    ReturnRequestedSubject,
    ReturnRequestedBody,
    ReturnApprovedSubject,
    ReturnApprovedBody,
    ReturnRejectedSubject,
    ReturnRejectedBody,
    ReturnReceivedSubject,
    ReturnReceivedBody,
    ResetSubject,
    ResetBody,
    GiftSubject,
    GiftBody,
    GiftLine,
    GiftFooter,
}

/// The text `w` in English, German, French and Spanish.
fn templates(w: W) -> [&'static str; 4] {
    use W::*;
    match w {
        ConfirmSubject => ["Your order {order}", "Ihre Bestellung {order}", "Votre commande {order}", "Su pedido {order}"],
        ConfirmThanks => [
            "Thank you for your order {order}.\n\nTotal: {total}\n",
            "Vielen Dank für Ihre Bestellung {order}.\n\nSumme: {total}\n",
            "Merci pour votre commande {order}.\n\nTotal : {total}\n",
            "Gracias por su pedido {order}.\n\nTotal: {total}\n",
        ],
        PaidByCard => [
            "Paid by gift card: {amount}\n",
            "Mit Geschenkkarte bezahlt: {amount}\n",
            "Payé par carte cadeau : {amount}\n",
            "Pagado con tarjeta regalo: {amount}\n",
        ],
        ToPayReserved => [
            "To pay: {amount}\nIt is reserved for you until you pay.",
            "Zu zahlen: {amount}\nDie Ware ist für Sie reserviert, bis Sie bezahlen.",
            "À payer : {amount}\nElle vous est réservée jusqu'à votre paiement.",
            "A pagar: {amount}\nLo reservamos para usted hasta que pague.",
        ],
        NothingLeft => [
            "Nothing is left to pay: we will tell you when it ships.",
            "Es ist nichts mehr zu zahlen: Wir sagen Ihnen Bescheid, wenn die Bestellung versandt wird.",
            "Il ne reste rien à payer : nous vous préviendrons de l'expédition.",
            "No queda nada por pagar: le avisaremos cuando se envíe.",
        ],
        ReceiptSubject => [
            "Payment received for order {order}",
            "Zahlung für Bestellung {order} erhalten",
            "Paiement reçu pour la commande {order}",
            "Pago recibido del pedido {order}",
        ],
        ReceiptBody => [
            "We received your payment for order {order}.\n\nPaid: {amount}{gift}\nWe will tell you when it ships.",
            "Wir haben Ihre Zahlung für Bestellung {order} erhalten.\n\nBezahlt: {amount}{gift}\nWir sagen Ihnen \
             Bescheid, wenn sie versandt wird.",
            "Nous avons reçu votre paiement pour la commande {order}.\n\nPayé : {amount}{gift}\nNous vous \
             préviendrons de l'expédition.",
            "Hemos recibido su pago del pedido {order}.\n\nPagado: {amount}{gift}\nLe avisaremos cuando se envíe.",
        ],
        ReceiptGift => [
            " ({amount} of it by gift card)",
            " (davon {amount} mit Geschenkkarte)",
            " (dont {amount} par carte cadeau)",
            " ({amount} con tarjeta regalo)",
        ],
        ShippedSubject => [
            "Order {order} has shipped",
            "Bestellung {order} wurde versandt",
            "La commande {order} a été expédiée",
            "El pedido {order} ha sido enviado",
        ],
        ShippedPartSubject => [
            "Part of order {order} has shipped",
            "Ein Teil der Bestellung {order} wurde versandt",
            "Une partie de la commande {order} a été expédiée",
            "Parte del pedido {order} ha sido enviada",
        ],
        ShippedBody => [
            "Your order {order} is on its way (shipment {shipment}):\n\n",
            "Ihre Bestellung {order} ist unterwegs (Sendung {shipment}):\n\n",
            "Votre commande {order} est en route (envoi {shipment}) :\n\n",
            "Su pedido {order} está en camino (envío {shipment}):\n\n",
        ],
        ShippedPartBody => [
            "Part of your order {order} is on its way (shipment {shipment}):\n\n",
            "Ein Teil Ihrer Bestellung {order} ist unterwegs (Sendung {shipment}):\n\n",
            "Une partie de votre commande {order} est en route (envoi {shipment}) :\n\n",
            "Parte de su pedido {order} está en camino (envío {shipment}):\n\n",
        ],
        Carrier => ["Carrier: {carrier}\n", "Versanddienst: {carrier}\n", "Transporteur : {carrier}\n", "Transportista: {carrier}\n"],
        Tracking => [
            "Tracking number: {tracking}\n",
            "Sendungsnummer: {tracking}\n",
            "Numéro de suivi : {tracking}\n",
            "Número de seguimiento: {tracking}\n",
        ],
        FollowIt => ["Follow it: {url}\n", "Sendung verfolgen: {url}\n", "Suivre l'envoi : {url}\n", "Sígalo: {url}\n"],
        MoreToFollow => [
            "\n{left} more item(s) will follow in another parcel.\n",
            "\nWeitere Artikel ({left}) folgen in einem anderen Paket.\n",
            "\n{left} autre(s) article(s) suivront dans un autre colis.\n",
            "\n{left} artículo(s) más llegarán en otro paquete.\n",
        ],
        RefundSubject => [
            "Refund for order {order}",
            "Erstattung für Bestellung {order}",
            "Remboursement de la commande {order}",
            "Reembolso del pedido {order}",
        ],
        RefundBody => [
            "We refunded {amount} of your order {order}.\n\nReason: {reason}\n",
            "Wir haben Ihnen {amount} Ihrer Bestellung {order} erstattet.\n\nGrund: {reason}\n",
            "Nous vous avons remboursé {amount} sur votre commande {order}.\n\nMotif : {reason}\n",
            "Le hemos reembolsado {amount} de su pedido {order}.\n\nMotivo: {reason}\n",
        ],
        RefundFor => ["\nFor:\n", "\nFür:\n", "\nPour :\n", "\nPor:\n"],
        RefundAllCard => [
            "\nIt is back on your gift card ({amount}).\n",
            "\nDer Betrag ist wieder auf Ihrer Geschenkkarte ({amount}).\n",
            "\nIl est recrédité sur votre carte cadeau ({amount}).\n",
            "\nSe ha devuelto a su tarjeta regalo ({amount}).\n",
        ],
        RefundPartCard => [
            "\n{amount} of it is back on your gift card.",
            "\nDavon sind {amount} wieder auf Ihrer Geschenkkarte.",
            "\n{amount} sont recrédités sur votre carte cadeau.",
            "\n{amount} se han devuelto a su tarjeta regalo.",
        ],
        RefundBank => [
            "\nIt goes back the way you paid; your bank may take a few days to show it.\n",
            "\nDer Betrag geht auf dem Weg zurück, auf dem Sie bezahlt haben; Ihre Bank zeigt ihn eventuell erst nach \
             einigen Tagen an.\n",
            "\nIl vous est rendu par le moyen de paiement utilisé ; votre banque peut mettre quelques jours à \
             l'afficher.\n",
            "\nSe devuelve por el mismo medio de pago; su banco puede tardar unos días en mostrarlo.\n",
        ],
        EditSubject => [
            "Your order {order} was changed",
            "Ihre Bestellung {order} wurde geändert",
            "Votre commande {order} a été modifiée",
            "Su pedido {order} ha sido modificado",
        ],
        EditBody => [
            "We changed your order {order}: {changes}.\n\nNew total: {total} (it was {before}).\n",
            "Wir haben Ihre Bestellung {order} geändert: {changes}.\n\nNeue Summe: {total} (vorher {before}).\n",
            "Nous avons modifié votre commande {order} : {changes}.\n\nNouveau total : {total} (il était de {before}).\n",
            "Hemos modificado su pedido {order}: {changes}.\n\nNuevo total: {total} (antes {before}).\n",
        ],
        EditRemoved => ["{sku} removed", "{sku} entfernt", "{sku} retiré", "{sku} eliminado"],
        EditAdded => [
            "{quantity} × {sku} added",
            "{quantity} × {sku} hinzugefügt",
            "{quantity} × {sku} ajouté(s)",
            "{quantity} × {sku} añadido(s)",
        ],
        EditToPay => ["To pay: {amount}.", "Zu zahlen: {amount}.", "À payer : {amount}.", "A pagar: {amount}."],
        EditGiveBack => [
            "We are giving back {amount} (the refund mail says where).",
            "Wir erstatten Ihnen {amount} (die Mail zur Erstattung sagt, wohin).",
            "Nous vous rendons {amount} (le courriel du remboursement précise comment).",
            "Le devolvemos {amount} (el correo del reembolso indica cómo).",
        ],
        EditNothing => [
            "Nothing changes in what you paid.",
            "An Ihrer Zahlung ändert sich nichts.",
            "Rien ne change dans ce que vous avez payé.",
            "No cambia nada en lo que ha pagado.",
        ],
        EditLeft => [
            "Left to pay: {amount}. We will ask you for it.",
            "Noch zu zahlen: {amount}. Wir werden Sie darum bitten.",
            "Reste à payer : {amount}. Nous vous le demanderons.",
            "Queda por pagar: {amount}. Se lo pediremos.",
        ],
        DraftBody => [
            "The shop prepared your order {order}.\n\nTotal: {total}\n",
            "Der Shop hat Ihre Bestellung {order} vorbereitet.\n\nSumme: {total}\n",
            "La boutique a préparé votre commande {order}.\n\nTotal : {total}\n",
            "La tienda ha preparado su pedido {order}.\n\nTotal: {total}\n",
        ],
        DraftPayLink => [
            "To pay: {amount}\nPay and follow your order here: {url}\nIt is reserved for you until {until} UTC.",
            "Zu zahlen: {amount}\nHier bezahlen und die Bestellung verfolgen: {url}\nSie ist für Sie reserviert bis \
             {until} UTC.",
            "À payer : {amount}\nPayez et suivez votre commande ici : {url}\nElle vous est réservée jusqu'au {until} \
             UTC.",
            "A pagar: {amount}\nPague y siga su pedido aquí: {url}\nLo reservamos para usted hasta el {until} UTC.",
        ],
        DraftPaid => [
            "It is paid: we will tell you when it ships.",
            "Sie ist bezahlt: Wir sagen Ihnen Bescheid, wenn sie versandt wird.",
            "Elle est payée : nous vous préviendrons de l'expédition.",
            "Está pagado: le avisaremos cuando se envíe.",
        ],
        NewLinkSubject => [
            "Pay for your order {order}",
            "Bezahlen Sie Ihre Bestellung {order}",
            "Payez votre commande {order}",
            "Pague su pedido {order}",
        ],
        NewLinkBody => [
            "Here is a new link to pay your order {order}.\n\nTo pay: {amount}\nPay and follow your order here: {url}\n\
             It is reserved for you until {until} UTC. The link sent before no longer opens it.",
            "Hier ist ein neuer Link, um Ihre Bestellung {order} zu bezahlen.\n\nZu zahlen: {amount}\nHier bezahlen \
             und die Bestellung verfolgen: {url}\nSie ist für Sie reserviert bis {until} UTC. Der zuvor gesendete \
             Link öffnet sie nicht mehr.",
            "Voici un nouveau lien pour payer votre commande {order}.\n\nÀ payer : {amount}\nPayez et suivez votre \
             commande ici : {url}\nElle vous est réservée jusqu'au {until} UTC. Le lien envoyé précédemment ne \
             l'ouvre plus.",
            "Aquí tiene un nuevo enlace para pagar su pedido {order}.\n\nA pagar: {amount}\nPague y siga su pedido \
             aquí: {url}\nLo reservamos para usted hasta el {until} UTC. El enlace enviado antes ya no lo abre.",
        ],
        ReturnRequestedSubject => [
            "We got your return request for order {order}",
            "Ihre Rücksendeanfrage für Bestellung {order} ist eingegangen",
            "Nous avons reçu votre demande de retour pour la commande {order}",
            "Hemos recibido su solicitud de devolución del pedido {order}",
        ],
        ReturnRequestedBody => [
            "We got your request to return items of order {order} (return {id}). We will let you know when we have \
             looked at it.\n",
            "Wir haben Ihre Anfrage erhalten, Artikel der Bestellung {order} zurückzusenden (Rücksendung {id}). Wir \
             melden uns, sobald wir sie geprüft haben.\n",
            "Nous avons reçu votre demande de retour d'articles de la commande {order} (retour {id}). Nous vous \
             répondrons après l'avoir examinée.\n",
            "Hemos recibido su solicitud para devolver artículos del pedido {order} (devolución {id}). Le avisaremos \
             cuando la hayamos revisado.\n",
        ],
        ReturnApprovedSubject => [
            "Your return for order {order} is approved",
            "Ihre Rücksendung für Bestellung {order} ist genehmigt",
            "Votre retour pour la commande {order} est accepté",
            "Su devolución del pedido {order} está aprobada",
        ],
        ReturnApprovedBody => [
            "Your return {id} of order {order} is approved. Please send the items back to us.\n",
            "Ihre Rücksendung {id} der Bestellung {order} ist genehmigt. Bitte senden Sie uns die Artikel zurück.\n",
            "Votre retour {id} de la commande {order} est accepté. Merci de nous renvoyer les articles.\n",
            "Su devolución {id} del pedido {order} está aprobada. Envíenos los artículos, por favor.\n",
        ],
        ReturnRejectedSubject => [
            "About your return for order {order}",
            "Zu Ihrer Rücksendung für Bestellung {order}",
            "À propos de votre retour pour la commande {order}",
            "Sobre su devolución del pedido {order}",
        ],
        ReturnRejectedBody => [
            "We cannot take back the items of your return {id} of order {order}.\n",
            "Wir können die Artikel Ihrer Rücksendung {id} der Bestellung {order} nicht zurücknehmen.\n",
            "Nous ne pouvons pas reprendre les articles de votre retour {id} de la commande {order}.\n",
            "No podemos aceptar los artículos de su devolución {id} del pedido {order}.\n",
        ],
        ReturnReceivedSubject => [
            "Your returned items for order {order} arrived",
            "Ihre zurückgesandten Artikel der Bestellung {order} sind angekommen",
            "Vos articles retournés de la commande {order} sont arrivés",
            "Han llegado los artículos devueltos del pedido {order}",
        ],
        ReturnReceivedBody => [
            "The items of your return {id} of order {order} arrived. Your refund follows.\n",
            "Die Artikel Ihrer Rücksendung {id} der Bestellung {order} sind angekommen. Ihre Erstattung folgt.\n",
            "Les articles de votre retour {id} de la commande {order} sont arrivés. Votre remboursement suit.\n",
            "Los artículos de su devolución {id} del pedido {order} han llegado. Su reembolso llegará en breve.\n",
        ],
        ResetSubject => [
            "Reset your password",
            "Passwort zurücksetzen",
            "Réinitialisez votre mot de passe",
            "Restablezca su contraseña",
        ],
        ResetBody => [
            "Someone asked to reset the password of your account.\n\nYour reset code: {code}\n\nIt works once, for \
             {minutes} minutes. If it was not you, ignore this mail.",
            "Jemand hat verlangt, das Passwort Ihres Kontos zurückzusetzen.\n\nIhr Code: {code}\n\nEr gilt einmal, \
             {minutes} Minuten lang. Wenn Sie es nicht waren, ignorieren Sie diese E-Mail.",
            "Quelqu'un a demandé à réinitialiser le mot de passe de votre compte.\n\nVotre code : {code}\n\nIl \
             fonctionne une fois, pendant {minutes} minutes. Si ce n'était pas vous, ignorez ce courriel.",
            "Alguien ha pedido restablecer la contraseña de su cuenta.\n\nSu código: {code}\n\nFunciona una vez, \
             durante {minutes} minutos. Si no fue usted, ignore este correo.",
        ],
        GiftSubject => [
            "Your gift cards from order {order}",
            "Ihre Geschenkkarten aus Bestellung {order}",
            "Vos cartes cadeaux de la commande {order}",
            "Sus tarjetas regalo del pedido {order}",
        ],
        GiftBody => [
            "Here are the gift cards of your order {order}.\n\n",
            "Hier sind die Geschenkkarten Ihrer Bestellung {order}.\n\n",
            "Voici les cartes cadeaux de votre commande {order}.\n\n",
            "Aquí tiene las tarjetas regalo de su pedido {order}.\n\n",
        ],
        GiftLine => [
            "  {name}: {code} (worth {amount})\n",
            "  {name}: {code} (Wert {amount})\n",
            "  {name} : {code} (valeur {amount})\n",
            "  {name}: {code} (valor {amount})\n",
        ],
        GiftFooter => [
            "\nEach code pays at checkout, in whole or in part. Keep them safe: whoever has a code can spend it.\n",
            "\nJeder Code bezahlt an der Kasse, ganz oder teilweise. Bewahren Sie sie sicher auf: Wer einen Code hat, \
             kann ihn ausgeben.\n",
            "\nChaque code paie lors de la commande, en tout ou en partie. Gardez-les en lieu sûr : quiconque possède \
             un code peut le dépenser.\n",
            "\nCada código paga al finalizar la compra, total o parcialmente. Guárdelos bien: quien tenga un código \
             puede gastarlo.\n",
        ],
    }
}

/// The text `w` in `lang`, each `{name}` of it replaced by its value in `args`.
pub fn say(lang: Lang, w: W, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let template = templates(w)[lang.index()];
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').map(|close| (&after[..close], close)) {
            Some((name, close)) if args.iter().any(|(n, _)| *n == name) => {
                let (_, value) = args.iter().find(|(n, _)| *n == name).expect("found above");
                out.push_str(&value.to_string());
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Lang; 4] = [Lang::En, Lang::De, Lang::Fr, Lang::Es];

    /// Every language's text of a message has the same places as the English one: none
    /// is left unfilled, none is lost.
    #[test]
    fn every_language_has_the_places_of_the_english_text() {
        let places = |t: &str| {
            let mut p: Vec<String> =
                t.split('{').skip(1).filter_map(|s| s.split_once('}').map(|(n, _)| n.to_owned())).collect();
            p.sort();
            p
        };
        for w in [
            W::ConfirmSubject,
            W::ConfirmThanks,
            W::PaidByCard,
            W::ToPayReserved,
            W::NothingLeft,
            W::ReceiptSubject,
            W::ReceiptBody,
            W::ReceiptGift,
            W::ShippedSubject,
            W::ShippedPartSubject,
            W::ShippedBody,
            W::ShippedPartBody,
            W::Carrier,
            W::Tracking,
            W::FollowIt,
            W::MoreToFollow,
            W::RefundSubject,
            W::RefundBody,
            W::RefundFor,
            W::RefundAllCard,
            W::RefundPartCard,
            W::RefundBank,
            W::EditSubject,
            W::EditBody,
            W::EditRemoved,
            W::EditAdded,
            W::EditToPay,
            W::EditGiveBack,
            W::EditNothing,
            W::EditLeft,
            W::DraftBody,
            W::DraftPayLink,
            W::DraftPaid,
            W::NewLinkSubject,
            W::NewLinkBody,
            W::ReturnRequestedSubject,
            W::ReturnRequestedBody,
            W::ReturnApprovedSubject,
            W::ReturnApprovedBody,
            W::ReturnRejectedSubject,
            W::ReturnRejectedBody,
            W::ReturnReceivedSubject,
            W::ReturnReceivedBody,
            W::ResetSubject,
            W::ResetBody,
            W::GiftSubject,
            W::GiftBody,
            W::GiftLine,
            W::GiftFooter,
        ] {
            let t = templates(w);
            for (i, other) in t.iter().enumerate().skip(1) {
                assert_eq!(places(other), places(t[0]), "{w:?} in language {i}");
                assert_ne!(*other, t[0], "{w:?} is translated ({i})");
            }
        }
    }

    #[test]
    fn places_are_filled_and_amounts_written_as_the_language_does() {
        let s = say(Lang::De, W::ConfirmThanks, &[("order", &42), ("total", &Lang::De.amount(123_456, "EUR"))]);
        assert_eq!(s, "Vielen Dank für Ihre Bestellung 42.\n\nSumme: 1234,56 EUR\n");
        assert_eq!(Lang::En.amount(-5, "USD"), "-0.05 USD");
        assert_eq!(Lang::Fr.amount(1500, "JPY"), "1500 JPY");
        assert_eq!(Lang::of(Some("de-AT"), "en"), Lang::De);
        assert_eq!(Lang::of(Some("pt-BR"), "en"), Lang::En);
        assert_eq!(Lang::of(None, "fr"), Lang::Fr);
        // a brace without a known name stays as it is
        assert_eq!(say(Lang::En, W::Carrier, &[]), "Carrier: {carrier}\n");
        for l in ALL {
            assert!(!say(l, W::ResetBody, &[("code", &"XYZ"), ("minutes", &15)]).contains('{'));
        }
    }
}
