//! The storefront's own words — its frame, home, category, product and search pages, the
//! cart, the checkout, an order's page, the account's pages and the error page — in
//! each language it speaks: English (the source, and the fallback), German, French and
//! Spanish, the same languages as the mail ([`crate::mail::words::Lang`]). A page is in its
//! shopper's language (the footer's switch, else the browser's); a language the shop sells
//! in without words here (`pt-BR`) shows the English ones, as its mail does.
//!
//! A text is looked up by its English; [`tf`] fills its `{name}` places. A unit test holds
//! every text the pages ask for to a translation in each language with the same places.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::OnceLock;

use crate::error::ApiError;

pub use crate::mail::words::Lang;

/// English → [German, French, Spanish].
const WORDS: &[(&str, [&str; 3])] = &[
    // the frame
    ("Skip to content", ["Zum Inhalt springen", "Aller au contenu", "Saltar al contenido"]),
    ("Search the shop", ["Im Shop suchen", "Rechercher dans la boutique", "Buscar en la tienda"]),
    ("Search products", ["Produkte suchen", "Rechercher des produits", "Buscar productos"]),
    ("Search", ["Suchen", "Rechercher", "Buscar"]),
    ("Your shop", ["Ihr Shop", "Votre boutique", "Tu tienda"]),
    ("Cart", ["Warenkorb", "Panier", "Carrito"]),
    ("Account", ["Konto", "Compte", "Cuenta"]),
    ("Your account", ["Ihr Konto", "Votre compte", "Tu cuenta"]),
    ("Your cart", ["Ihr Warenkorb", "Votre panier", "Tu carrito"]),
    ("Language", ["Sprache", "Langue", "Idioma"]),
    ("Currency", ["Währung", "Devise", "Moneda"]),
    ("Change", ["Ändern", "Changer", "Cambiar"]),
    // prices, ratings, pages of a list
    ("was ", ["vorher ", "avant ", "antes "]),
    ("{rating} out of 5", ["{rating} von 5", "{rating} sur 5", "{rating} de 5"]),
    ("{rating} out of 5 stars", ["{rating} von 5 Sternen", "{rating} étoiles sur 5", "{rating} de 5 estrellas"]),
    ("Out of stock", ["Ausverkauft", "En rupture de stock", "Agotado"]),
    ("Pages", ["Seiten", "Pages", "Páginas"]),
    ("← Previous", ["← Zurück", "← Précédent", "← Anterior"]),
    ("Page {n} of {last}", ["Seite {n} von {last}", "Page {n} sur {last}", "Página {n} de {last}"]),
    ("Next →", ["Weiter →", "Suivant →", "Siguiente →"]),
    // home
    ("Welcome to {shop}", ["Willkommen bei {shop}", "Bienvenue chez {shop}", "Bienvenido a {shop}"]),
    (
        "Browse by category, or search for what you need.",
        [
            "Stöbern Sie nach Kategorie oder suchen Sie, was Sie brauchen.",
            "Parcourez les catégories ou cherchez ce qu'il vous faut.",
            "Explora por categoría o busca lo que necesitas.",
        ],
    ),
    ("Shop by category", ["Nach Kategorie einkaufen", "Acheter par catégorie", "Comprar por categoría"]),
    ("{n} products", ["{n} Produkte", "{n} produits", "{n} productos"]),
    ("New in", ["Neu eingetroffen", "Nouveautés", "Novedades"]),
    ("Best sellers", ["Bestseller", "Meilleures ventes", "Más vendidos"]),
    ("No products yet.", ["Noch keine Produkte.", "Pas encore de produits.", "Todavía no hay productos."]),
    // sorts
    ("Newest", ["Neueste", "Plus récents", "Más recientes"]),
    ("Price: low to high", ["Preis: aufsteigend", "Prix : croissant", "Precio: de menor a mayor"]),
    ("Price: high to low", ["Preis: absteigend", "Prix : décroissant", "Precio: de mayor a menor"]),
    ("Best selling", ["Meistverkauft", "Les plus vendus", "Los más vendidos"]),
    ("Top rated", ["Am besten bewertet", "Les mieux notés", "Mejor valorados"]),
    ("Relevance", ["Relevanz", "Pertinence", "Relevancia"]),
    ("Sort by ", ["Sortieren nach ", "Trier par ", "Ordenar por "]),
    ("Sort", ["Sortieren", "Trier", "Ordenar"]),
    // a category
    ("Breadcrumb", ["Brotkrümelnavigation", "Fil d'Ariane", "Ruta de navegación"]),
    ("Home", ["Startseite", "Accueil", "Inicio"]),
    ("Filters", ["Filter", "Filtres", "Filtros"]),
    ("Brand", ["Marke", "Marque", "Marca"]),
    ("Any brand", ["Alle Marken", "Toutes les marques", "Cualquier marca"]),
    ("Price", ["Preis", "Prix", "Precio"]),
    ("From", ["Von", "De", "Desde"]),
    ("To", ["Bis", "À", "Hasta"]),
    ("Availability", ["Verfügbarkeit", "Disponibilité", "Disponibilidad"]),
    ("In stock only", ["Nur vorrätige", "En stock uniquement", "Solo en stock"]),
    ("Apply filters", ["Filter anwenden", "Appliquer les filtres", "Aplicar filtros"]),
    ("Products", ["Produkte", "Produits", "Productos"]),
    (
        "No products match these filters.",
        [
            "Keine Produkte entsprechen diesen Filtern.",
            "Aucun produit ne correspond à ces filtres.",
            "Ningún producto coincide con estos filtros.",
        ],
    ),
    // a product
    ("by {brand}", ["von {brand}", "par {brand}", "de {brand}"]),
    ("SKU {sku}", ["Art.-Nr. {sku}", "Réf. {sku}", "Ref. {sku}"]),
    ("Choose {options}", ["{options} wählen", "Choisir {options}", "Elegir {options}"]),
    (" and ", [" und ", " et ", " y "]),
    (" (sale)", [" (Angebot)", " (promo)", " (oferta)"]),
    (" — sold out", [" — ausverkauft", " — épuisé", " — agotado"]),
    ("Quantity", ["Menge", "Quantité", "Cantidad"]),
    ("Add to cart", ["In den Warenkorb", "Ajouter au panier", "Añadir al carrito"]),
    ("In stock", ["Auf Lager", "En stock", "En stock"]),
    ("Description", ["Beschreibung", "Description", "Descripción"]),
    ("More pictures", ["Weitere Bilder", "Plus de photos", "Más fotos"]),
    ("Reviews", ["Bewertungen", "Avis", "Reseñas"]),
    ("No reviews yet.", ["Noch keine Bewertungen.", "Pas encore d'avis.", "Todavía no hay reseñas."]),
    // search
    (
        "Type what you are looking for in the search box above.",
        [
            "Geben Sie oben im Suchfeld ein, was Sie suchen.",
            "Tapez ce que vous cherchez dans le champ de recherche ci-dessus.",
            "Escribe lo que buscas en el cuadro de búsqueda de arriba.",
        ],
    ),
    ("Search: {text}", ["Suche: {text}", "Recherche : {text}", "Búsqueda: {text}"]),
    ("Results for “{text}”", ["Ergebnisse für „{text}“", "Résultats pour « {text} »", "Resultados para «{text}»"]),
    ("Narrow the results", ["Ergebnisse eingrenzen", "Affiner les résultats", "Acotar los resultados"]),
    ("Category", ["Kategorie", "Catégorie", "Categoría"]),
    ("(any)", ["(alle)", "(tous)", "(cualquiera)"]),
    (" and up", [" und mehr", " et plus", " o más"]),
    ("Any price", ["Jeder Preis", "Tous les prix", "Cualquier precio"]),
    ("Results", ["Ergebnisse", "Résultats", "Resultados"]),
    ("{n} results", ["{n} Ergebnisse", "{n} résultats", "{n} resultados"]),
    (
        "Nothing matches “{text}”. Try fewer or other words.",
        [
            "Nichts passt zu „{text}“. Versuchen Sie weniger oder andere Wörter.",
            "Rien ne correspond à « {text} ». Essayez avec moins de mots, ou d'autres.",
            "Nada coincide con «{text}». Prueba con menos palabras o con otras.",
        ],
    ),
    // the cart
    ("Your cart is empty.", ["Ihr Warenkorb ist leer.", "Votre panier est vide.", "Tu carrito está vacío."]),
    ("Continue shopping", ["Weiter einkaufen", "Continuer mes achats", "Seguir comprando"]),
    ("Items in your cart", ["Artikel in Ihrem Warenkorb", "Articles de votre panier", "Artículos de tu carrito"]),
    ("Product", ["Produkt", "Produit", "Producto"]),
    ("Total", ["Summe", "Total", "Total"]),
    ("Remove", ["Entfernen", "Retirer", "Quitar"]),
    ("Not enough in stock", ["Nicht genug auf Lager", "Stock insuffisant", "No hay suficiente stock"]),
    ("Quantity of {name}", ["Menge von {name}", "Quantité de {name}", "Cantidad de {name}"]),
    ("Update", ["Aktualisieren", "Mettre à jour", "Actualizar"]),
    ("Remove {name}", ["{name} entfernen", "Retirer {name}", "Quitar {name}"]),
    ("Summary", ["Übersicht", "Récapitulatif", "Resumen"]),
    ("Items", ["Artikel", "Articles", "Artículos"]),
    ("Subtotal", ["Zwischensumme", "Sous-total", "Subtotal"]),
    ("Discount", ["Rabatt", "Remise", "Descuento"]),
    ("Remove the code {code}", ["Den Code {code} entfernen", "Retirer le code {code}", "Quitar el código {code}"]),
    ("Remove code", ["Code entfernen", "Retirer le code", "Quitar el código"]),
    ("Discount code", ["Rabattcode", "Code de réduction", "Código de descuento"]),
    ("Apply", ["Einlösen", "Appliquer", "Aplicar"]),
    ("Gift card", ["Geschenkkarte", "Carte cadeau", "Tarjeta regalo"]),
    ("Gift card …{last4}", ["Geschenkkarte …{last4}", "Carte cadeau …{last4}", "Tarjeta regalo …{last4}"]),
    (
        "Balance {balance}; it pays at checkout, the rest by your payment method.",
        [
            "Guthaben {balance}; es wird an der Kasse verrechnet, den Rest zahlen Sie mit Ihrer Zahlungsart.",
            "Solde {balance} ; il paie à la commande, le reste par votre moyen de paiement.",
            "Saldo {balance}; se descuenta al pagar y el resto con tu forma de pago.",
        ],
    ),
    (
        "Remove the gift card ending {last4}",
        [
            "Die Geschenkkarte mit Endung {last4} entfernen",
            "Retirer la carte cadeau finissant par {last4}",
            "Quitar la tarjeta regalo que termina en {last4}",
        ],
    ),
    ("Remove gift card", ["Geschenkkarte entfernen", "Retirer la carte cadeau", "Quitar la tarjeta regalo"]),
    (
        "Shipping, and any tax not included in the prices, are added at checkout.",
        [
            "Versand und nicht im Preis enthaltene Steuern kommen an der Kasse hinzu.",
            "La livraison, et toute taxe non comprise dans les prix, s'ajoutent à la commande.",
            "El envío, y los impuestos no incluidos en los precios, se añaden al pagar.",
        ],
    ),
    ("Check out", ["Zur Kasse", "Commander", "Tramitar pedido"]),
    ("Tax", ["Steuer", "Taxe", "Impuestos"]),
    ("Tax included", ["Steuer enthalten", "Taxe comprise", "Impuestos incluidos"]),
    // checkout
    ("Checkout", ["Kasse", "Commande", "Pago"]),
    (" (optional)", [" (optional)", " (facultatif)", " (opcional)"]),
    (
        "Please check the fields marked below.",
        [
            "Bitte prüfen Sie die markierten Felder.",
            "Veuillez vérifier les champs signalés ci-dessous.",
            "Revisa los campos marcados abajo.",
        ],
    ),
    ("Contact", ["Kontakt", "Contact", "Contacto"]),
    ("E-mail for the confirmation", ["E-Mail für die Bestätigung", "E-mail pour la confirmation", "Correo para la confirmación"]),
    ("Shipping address", ["Lieferadresse", "Adresse de livraison", "Dirección de envío"]),
    ("Full name", ["Vollständiger Name", "Nom complet", "Nombre completo"]),
    ("Address", ["Adresse", "Adresse", "Dirección"]),
    ("Apartment, suite", ["Wohnung, Etage", "Appartement, étage", "Piso, puerta"]),
    ("City", ["Stadt", "Ville", "Ciudad"]),
    ("State or region", ["Bundesland oder Region", "État ou région", "Provincia o región"]),
    ("Postal code", ["Postleitzahl", "Code postal", "Código postal"]),
    ("Country", ["Land", "Pays", "País"]),
    ("Delivery", ["Lieferung", "Livraison", "Entrega"]),
    (
        "The shop does not ship to this country.",
        ["Der Shop liefert nicht in dieses Land.", "La boutique ne livre pas ce pays.", "La tienda no envía a este país."],
    ),
    ("Payment", ["Zahlung", "Paiement", "Pago"]),
    ("Place order", ["Bestellung aufgeben", "Passer la commande", "Realizar pedido"]),
    ("Your order", ["Ihre Bestellung", "Votre commande", "Tu pedido"]),
    ("Remove it in the cart", ["Im Warenkorb entfernen", "La retirer dans le panier", "Quítala en el carrito"]),
    (
        "Gift card …{last4} pays up to {balance}; the rest is paid by the method you choose.",
        [
            "Geschenkkarte …{last4} zahlt bis zu {balance}; den Rest zahlen Sie mit der gewählten Zahlungsart.",
            "La carte cadeau …{last4} paie jusqu'à {balance} ; le reste est payé par le moyen choisi.",
            "La tarjeta regalo …{last4} paga hasta {balance}; el resto se paga con la forma que elijas.",
        ],
    ),
    (
        "Shipping, and tax for your address unless the prices include it, are added when the order is placed.",
        [
            "Versand und die Steuer Ihrer Adresse, sofern nicht im Preis enthalten, kommen bei der Bestellung hinzu.",
            "La livraison, et la taxe de votre adresse si les prix ne la comprennent pas, s'ajoutent à la commande.",
            "El envío, y los impuestos de tu dirección si los precios no los incluyen, se añaden al hacer el pedido.",
        ],
    ),
    ("Card (on delivery of the payment link)", ["Karte (über den Zahlungslink)", "Carte (par le lien de paiement)", "Tarjeta (con el enlace de pago)"]),
    ("PayPal", ["PayPal", "PayPal", "PayPal"]),
    ("card", ["Karte", "carte", "tarjeta"]),
    ("bank transfer", ["Banküberweisung", "virement bancaire", "transferencia bancaria"]),
    ("cash on delivery", ["Nachnahme", "paiement à la livraison", "contra reembolso"]),
    ("Bank transfer", ["Banküberweisung", "Virement bancaire", "Transferencia bancaria"]),
    ("Cash on delivery", ["Nachnahme", "Paiement à la livraison", "Contra reembolso"]),
    ("United States", ["Vereinigte Staaten", "États-Unis", "Estados Unidos"]),
    ("Canada", ["Kanada", "Canada", "Canadá"]),
    ("United Kingdom", ["Vereinigtes Königreich", "Royaume-Uni", "Reino Unido"]),
    ("Ireland", ["Irland", "Irlande", "Irlanda"]),
    ("Germany", ["Deutschland", "Allemagne", "Alemania"]),
    ("France", ["Frankreich", "France", "Francia"]),
    ("Netherlands", ["Niederlande", "Pays-Bas", "Países Bajos"]),
    ("Belgium", ["Belgien", "Belgique", "Bélgica"]),
    ("Spain", ["Spanien", "Espagne", "España"]),
    ("Italy", ["Italien", "Italie", "Italia"]),
    ("Austria", ["Österreich", "Autriche", "Austria"]),
    ("Switzerland", ["Schweiz", "Suisse", "Suiza"]),
    ("Sweden", ["Schweden", "Suède", "Suecia"]),
    ("Denmark", ["Dänemark", "Danemark", "Dinamarca"]),
    ("Norway", ["Norwegen", "Norvège", "Noruega"]),
    ("Finland", ["Finnland", "Finlande", "Finlandia"]),
    ("Poland", ["Polen", "Pologne", "Polonia"]),
    ("Portugal", ["Portugal", "Portugal", "Portugal"]),
    ("Australia", ["Australien", "Australie", "Australia"]),
    ("New Zealand", ["Neuseeland", "Nouvelle-Zélande", "Nueva Zelanda"]),
    ("Japan", ["Japan", "Japon", "Japón"]),
    // an order
    ("Order {id}", ["Bestellung {id}", "Commande {id}", "Pedido {id}"]),
    ("Waiting for payment", ["Wartet auf Zahlung", "En attente de paiement", "Esperando el pago"]),
    ("Paid — being prepared", ["Bezahlt — wird vorbereitet", "Payée — en préparation", "Pagado — en preparación"]),
    (
        "Partly shipped — the rest follows",
        ["Teilweise versandt — der Rest folgt", "Expédiée en partie — la suite arrive", "Enviado en parte — el resto llegará"],
    ),
    ("Shipped", ["Versandt", "Expédiée", "Enviado"]),
    ("Cancelled", ["Storniert", "Annulée", "Cancelado"]),
    ("Expired (not paid in time)", ["Abgelaufen (nicht rechtzeitig bezahlt)", "Expirée (non payée à temps)", "Caducado (no se pagó a tiempo)"]),
    ("Refunded", ["Erstattet", "Remboursée", "Reembolsado"]),
    ("Partly refunded", ["Teilweise erstattet", "Remboursée en partie", "Reembolsado en parte"]),
    ("In progress", ["In Bearbeitung", "En cours", "En curso"]),
    (
        "Thank you! Your order is placed and its items are held for you until {until} UTC.",
        [
            "Vielen Dank! Ihre Bestellung ist aufgegeben, die Artikel sind bis {until} UTC für Sie reserviert.",
            "Merci ! Votre commande est passée et ses articles vous sont réservés jusqu'au {until} UTC.",
            "¡Gracias! Tu pedido está hecho y sus artículos están reservados para ti hasta el {until} UTC.",
        ],
    ),
    (
        "Thank you! Your order is placed and its items are held for you.",
        [
            "Vielen Dank! Ihre Bestellung ist aufgegeben, die Artikel sind für Sie reserviert.",
            "Merci ! Votre commande est passée et ses articles vous sont réservés.",
            "¡Gracias! Tu pedido está hecho y sus artículos están reservados para ti.",
        ],
    ),
    ("To pay:", ["Zu zahlen:", "À payer :", "A pagar:"]),
    (
        "by {method}, quoting order {id} as the reference.",
        [
            "per {method}, mit der Bestellnummer {id} als Verwendungszweck.",
            "par {method}, en indiquant la commande {id} comme référence.",
            "por {method}, indicando el pedido {id} como referencia.",
        ],
    ),
    ("A confirmation goes to {email}.", ["Eine Bestätigung geht an {email}.", "Une confirmation est envoyée à {email}.", "Se envía una confirmación a {email}."]),
    ("Shipping", ["Versand", "Livraison", "Envío"]),
    ("Paid by gift card …{last4}", ["Bezahlt mit Geschenkkarte …{last4}", "Payé par carte cadeau …{last4}", "Pagado con tarjeta regalo …{last4}"]),
    ("Back on gift card …{last4}", ["Zurück auf Geschenkkarte …{last4}", "Recrédité sur la carte cadeau …{last4}", "Devuelto a la tarjeta regalo …{last4}"]),
    ("To pay", ["Zu zahlen", "À payer", "A pagar"]),
    ("Paid by {method}", ["Bezahlt per {method}", "Payé par {method}", "Pagado con {method}"]),
    ("Balance due", ["Offener Betrag", "Solde dû", "Saldo pendiente"]),
    (
        "Your order was changed after you paid and costs more now: the shop will ask you for the balance.",
        [
            "Ihre Bestellung wurde nach der Zahlung geändert und kostet jetzt mehr: Der Shop wird Sie um den Restbetrag bitten.",
            "Votre commande a été modifiée après votre paiement et coûte plus cher : la boutique vous demandera le solde.",
            "Tu pedido cambió después de pagar y ahora cuesta más: la tienda te pedirá la diferencia.",
        ],
    ),
    ("Shipments", ["Sendungen", "Envois", "Envíos"]),
    ("Parcel {n}", ["Paket {n}", "Colis {n}", "Paquete {n}"]),
    ("sent {day}", ["versandt am {day}", "envoyé le {day}", "enviado el {day}"]),
    ("delivered {day}", ["zugestellt am {day}", "livré le {day}", "entregado el {day}"]),
    ("on its way", ["unterwegs", "en route", "en camino"]),
    ("tracking number", ["Sendungsnummer", "numéro de suivi", "número de seguimiento"]),
    ("Track parcel {n}", ["Paket {n} verfolgen", "Suivre le colis {n}", "Seguir el paquete {n}"]),
    ("Refunds", ["Erstattungen", "Remboursements", "Reembolsos"]),
    ("on its way back to you", ["auf dem Weg zurück zu Ihnen", "en route vers vous", "de vuelta hacia ti"]),
    (
        "could not be sent; the shop will be in touch",
        [
            "konnte nicht gesendet werden; der Shop meldet sich",
            "n'a pas pu être envoyé ; la boutique vous contactera",
            "no se pudo enviar; la tienda se pondrá en contacto",
        ],
    ),
    ("being processed", ["wird bearbeitet", "en cours de traitement", "en proceso"]),
    ("Returns", ["Rücksendungen", "Retours", "Devoluciones"]),
    ("Return {id}", ["Rücksendung {id}", "Retour {id}", "Devolución {id}"]),
    ("asked for: the shop will answer", ["angefragt: der Shop antwortet", "demandé : la boutique va répondre", "solicitada: la tienda responderá"]),
    (
        "approved: please send the items back",
        [
            "genehmigt: bitte senden Sie die Artikel zurück",
            "approuvé : merci de renvoyer les articles",
            "aprobada: envía los artículos de vuelta",
        ],
    ),
    ("not accepted", ["nicht angenommen", "refusé", "no aceptada"]),
    (
        "the items arrived: your refund follows",
        ["die Artikel sind angekommen: Ihre Erstattung folgt", "les articles sont arrivés : votre remboursement suit", "los artículos llegaron: tu reembolso llegará"],
    ),
    ("refunded", ["erstattet", "remboursé", "reembolsada"]),
    ("From the shop: {note}", ["Vom Shop: {note}", "De la boutique : {note}", "De la tienda: {note}"]),
    ("Return items", ["Artikel zurücksenden", "Retourner des articles", "Devolver artículos"]),
    (
        "Nothing was asked for: see the fields below.",
        [
            "Es wurde nichts angefragt: siehe die Felder unten.",
            "Rien n'a été demandé : voir les champs ci-dessous.",
            "No se pidió nada: mira los campos de abajo.",
        ],
    ),
    ("(up to {units}, until {until})", ["(bis zu {units}, bis {until})", "(jusqu'à {units}, jusqu'au {until})", "(hasta {units}, hasta el {until})"]),
    ("Units to send back", ["Zurückzusendende Stück", "Unités à renvoyer", "Unidades a devolver"]),
    ("Why", ["Grund", "Pourquoi", "Motivo"]),
    ("Ask to return", ["Rücksendung anfragen", "Demander un retour", "Solicitar la devolución"]),
    ("Shipping to", ["Lieferung an", "Livraison à", "Envío a"]),
    ("History", ["Verlauf", "Historique", "Historial"]),
    ("Placed {day}", ["Bestellt am {day}", "Passée le {day}", "Realizado el {day}"]),
    // logging in, registering, the account
    ("E-mail", ["E-Mail", "E-mail", "Correo electrónico"]),
    ("Password", ["Passwort", "Mot de passe", "Contraseña"]),
    ("Two-factor code", ["Zwei-Faktor-Code", "Code à deux facteurs", "Código de dos factores"]),
    (" (if you turned it on)", [" (falls eingeschaltet)", " (si vous l'avez activé)", " (si lo activaste)"]),
    ("Log in", ["Anmelden", "Se connecter", "Iniciar sesión"]),
    (
        "Enter the code from your authenticator app (or a recovery code).",
        [
            "Geben Sie den Code aus Ihrer Authenticator-App ein (oder einen Wiederherstellungscode).",
            "Saisissez le code de votre application d'authentification (ou un code de secours).",
            "Introduce el código de tu aplicación de autenticación (o un código de recuperación).",
        ],
    ),
    (
        "That code is wrong, used or expired. Try the current one.",
        [
            "Dieser Code ist falsch, verbraucht oder abgelaufen. Versuchen Sie den aktuellen.",
            "Ce code est faux, déjà utilisé ou expiré. Essayez le code actuel.",
            "Ese código es incorrecto, ya se usó o caducó. Prueba con el actual.",
        ],
    ),
    ("Wrong e-mail or password.", ["E-Mail oder Passwort falsch.", "E-mail ou mot de passe incorrect.", "Correo o contraseña incorrectos."]),
    ("New here?", ["Neu hier?", "Nouveau ici ?", "¿Eres nuevo?"]),
    ("Create an account", ["Konto erstellen", "Créer un compte", "Crear una cuenta"]),
    ("Your name", ["Ihr Name", "Votre nom", "Tu nombre"]),
    ("Password (at least 8 characters)", ["Passwort (mindestens 8 Zeichen)", "Mot de passe (8 caractères au moins)", "Contraseña (8 caracteres como mínimo)"]),
    ("Create account", ["Konto erstellen", "Créer le compte", "Crear la cuenta"]),
    ("Have an account?", ["Sie haben ein Konto?", "Vous avez un compte ?", "¿Ya tienes una cuenta?"]),
    ("Log out", ["Abmelden", "Se déconnecter", "Cerrar sesión"]),
    ("Orders", ["Bestellungen", "Commandes", "Pedidos"]),
    ("No orders yet.", ["Noch keine Bestellungen.", "Pas encore de commandes.", "Todavía no hay pedidos."]),
    ("Order", ["Bestellung", "Commande", "Pedido"]),
    ("Placed", ["Datum", "Date", "Fecha"]),
    ("Status", ["Status", "État", "Estado"]),
    ("Language of our e-mails", ["Sprache unserer E-Mails", "Langue de nos e-mails", "Idioma de nuestros correos"]),
    ("Save", ["Speichern", "Enregistrer", "Guardar"]),
    (
        "Saved: your next e-mails are in this language.",
        [
            "Gespeichert: Ihre nächsten E-Mails sind in dieser Sprache.",
            "Enregistré : vos prochains e-mails seront dans cette langue.",
            "Guardado: tus próximos correos estarán en este idioma.",
        ],
    ),
    ("Two-factor login", ["Zwei-Faktor-Anmeldung", "Connexion à deux facteurs", "Inicio de sesión en dos pasos"]),
    (
        "On: logging in asks for a code from your authenticator app.",
        [
            "Ein: Beim Anmelden wird ein Code aus Ihrer Authenticator-App abgefragt.",
            "Activée : la connexion demande un code de votre application d'authentification.",
            "Activado: al iniciar sesión se pide un código de tu aplicación de autenticación.",
        ],
    ),
    (
        "Off. With it on, logging in also asks for a code from an authenticator app.",
        [
            "Aus. Eingeschaltet fragt die Anmeldung zusätzlich einen Code aus einer Authenticator-App ab.",
            "Désactivée. Activée, la connexion demande aussi un code d'une application d'authentification.",
            "Desactivado. Si lo activas, al iniciar sesión también se pide un código de una aplicación de autenticación.",
        ],
    ),
    ("Turn on two-factor login", ["Zwei-Faktor-Anmeldung einschalten", "Activer la connexion à deux facteurs", "Activar el inicio de sesión en dos pasos"]),
    ("Where you are logged in", ["Wo Sie angemeldet sind", "Où vous êtes connecté", "Dónde has iniciado sesión"]),
    ("Device", ["Gerät", "Appareil", "Dispositivo"]),
    ("Last seen", ["Zuletzt gesehen", "Vu pour la dernière fois", "Visto por última vez"]),
    ("End", ["Beenden", "Terminer", "Cerrar"]),
    ("(this one)", ["(dieses)", "(celui-ci)", "(este)"]),
    ("End the session on {device}", ["Die Sitzung auf {device} beenden", "Terminer la session sur {device}", "Cerrar la sesión en {device}"]),
    (
        "Add this key to your authenticator app (or open the link on your phone):",
        [
            "Fügen Sie diesen Schlüssel Ihrer Authenticator-App hinzu (oder öffnen Sie den Link auf Ihrem Telefon):",
            "Ajoutez cette clé à votre application d'authentification (ou ouvrez le lien sur votre téléphone) :",
            "Añade esta clave a tu aplicación de autenticación (o abre el enlace en tu teléfono):",
        ],
    ),
    ("Open in an authenticator app", ["In einer Authenticator-App öffnen", "Ouvrir dans une application d'authentification", "Abrir en una aplicación de autenticación"]),
    ("The 6-digit code it shows", ["Der 6-stellige Code, den sie anzeigt", "Le code à 6 chiffres qu'elle affiche", "El código de 6 dígitos que muestra"]),
    ("Turn on", ["Einschalten", "Activer", "Activar"]),
    ("Two-factor login is on", ["Die Zwei-Faktor-Anmeldung ist eingeschaltet", "La connexion à deux facteurs est activée", "El inicio de sesión en dos pasos está activado"]),
    (
        "Keep these recovery codes somewhere safe. Each logs you in once if you lose your authenticator; they are shown only now.",
        [
            "Bewahren Sie diese Wiederherstellungscodes sicher auf. Jeder meldet Sie einmal an, falls Sie Ihren Authenticator verlieren; sie werden nur jetzt angezeigt.",
            "Gardez ces codes de secours en lieu sûr. Chacun vous connecte une fois si vous perdez votre application d'authentification ; ils ne sont affichés que maintenant.",
            "Guarda estos códigos de recuperación en un lugar seguro. Cada uno te permite iniciar sesión una vez si pierdes tu autenticador; solo se muestran ahora.",
        ],
    ),
    ("Back to your account", ["Zurück zu Ihrem Konto", "Retour à votre compte", "Volver a tu cuenta"]),
    (
        "That code is wrong or expired; try the current one.",
        [
            "Dieser Code ist falsch oder abgelaufen; versuchen Sie den aktuellen.",
            "Ce code est faux ou expiré ; essayez le code actuel.",
            "Ese código es incorrecto o caducó; prueba con el actual.",
        ],
    ),
    // the error page
    ("Not found", ["Nicht gefunden", "Introuvable", "No encontrado"]),
    (
        "There is nothing at this address. It may have moved, or the product is no longer sold.",
        [
            "Unter dieser Adresse gibt es nichts. Sie wurde vielleicht verschoben, oder das Produkt wird nicht mehr verkauft.",
            "Il n'y a rien à cette adresse. Elle a peut-être changé, ou le produit n'est plus vendu.",
            "No hay nada en esta dirección. Puede que se haya movido o que el producto ya no se venda.",
        ],
    ),
    ("That did not work", ["Das hat nicht geklappt", "Cela n'a pas fonctionné", "Eso no funcionó"]),
    (
        "Something in the request could not be used:",
        [
            "Etwas in der Anfrage war nicht verwendbar:",
            "Un élément de la demande n'a pas pu être utilisé :",
            "Algo de la solicitud no se pudo usar:",
        ],
    ),
    ("The shop could not do this now:", ["Der Shop konnte das jetzt nicht tun:", "La boutique n'a pas pu le faire maintenant :", "La tienda no pudo hacerlo ahora:"]),
    ("Not allowed", ["Nicht erlaubt", "Non autorisé", "No permitido"]),
    (
        "This page or action is not open to you.",
        ["Diese Seite oder Aktion steht Ihnen nicht offen.", "Cette page ou cette action ne vous est pas ouverte.", "Esta página o acción no está disponible para ti."],
    ),
    ("Too many requests", ["Zu viele Anfragen", "Trop de requêtes", "Demasiadas solicitudes"]),
    (
        "Please wait a moment and try again.",
        ["Bitte warten Sie einen Moment und versuchen Sie es erneut.", "Veuillez patienter un instant et réessayer.", "Espera un momento y vuelve a intentarlo."],
    ),
    ("Busy", ["Ausgelastet", "Occupé", "Ocupado"]),
    (
        "The shop is busy right now; please try again in a moment.",
        [
            "Der Shop ist gerade ausgelastet; bitte versuchen Sie es gleich noch einmal.",
            "La boutique est très sollicitée ; veuillez réessayer dans un instant.",
            "La tienda está ocupada ahora mismo; vuelve a intentarlo en un momento.",
        ],
    ),
    ("Something went wrong", ["Etwas ist schiefgelaufen", "Un problème est survenu", "Algo salió mal"]),
    (
        "The shop could not answer this request. Please try again.",
        [
            "Der Shop konnte diese Anfrage nicht beantworten. Bitte versuchen Sie es erneut.",
            "La boutique n'a pas pu répondre à cette demande. Veuillez réessayer.",
            "La tienda no pudo responder a esta solicitud. Vuelve a intentarlo.",
        ],
    ),
    ("Back to the shop", ["Zurück zum Shop", "Retour à la boutique", "Volver a la tienda"]),
    ("Reference:", ["Referenz:", "Référence :", "Referencia:"]),
    // the notes the shop itself writes in an order's history (see NOTES)
    ("order placed; stock reserved", ["Bestellung aufgegeben; Ware reserviert", "Commande passée ; articles réservés", "Pedido realizado; artículos reservados"]),
    (
        "order placed and paid by gift card; stock sold",
        [
            "Bestellung aufgegeben und mit Gutschein bezahlt",
            "Commande passée et payée par carte cadeau",
            "Pedido realizado y pagado con tarjeta regalo",
        ],
    ),
    ("payment received", ["Zahlung erhalten", "Paiement reçu", "Pago recibido"]),
    ("payment recorded by the shop", ["Zahlung vom Shop erfasst", "Paiement enregistré par la boutique", "Pago registrado por la tienda"]),
    ("payment failed", ["Zahlung fehlgeschlagen", "Échec du paiement", "El pago ha fallado"]),
    ("not paid in time", ["Nicht rechtzeitig bezahlt", "Non payée à temps", "No se pagó a tiempo"]),
    ("cancelled by the customer", ["Vom Kunden storniert", "Annulée par le client", "Cancelado por el cliente"]),
    ("cancelled by the shop", ["Vom Shop storniert", "Annulée par la boutique", "Cancelado por la tienda"]),
    (
        "cancelled by the customer; the payment goes back",
        [
            "Vom Kunden storniert; die Zahlung wird erstattet",
            "Annulée par le client ; le paiement est remboursé",
            "Cancelado por el cliente; se devuelve el pago",
        ],
    ),
    (
        "cancelled by the shop; the payment goes back",
        [
            "Vom Shop storniert; die Zahlung wird erstattet",
            "Annulée par la boutique ; le paiement est remboursé",
            "Cancelado por la tienda; se devuelve el pago",
        ],
    ),
    ("shipped", ["Versandt", "Expédiée", "Enviado"]),
    ("part of the order shipped", ["Ein Teil der Bestellung wurde versandt", "Une partie de la commande a été expédiée", "Se ha enviado parte del pedido"]),
    ("shipment {id} delivered", ["Sendung {id} zugestellt", "Envoi {id} livré", "Envío {id} entregado"]),
    ("return {id} requested", ["Rücksendung {id} angefragt", "Retour {id} demandé", "Devolución {id} solicitada"]),
    ("return {id} approved", ["Rücksendung {id} genehmigt", "Retour {id} accepté", "Devolución {id} aprobada"]),
    ("return {id} rejected", ["Rücksendung {id} abgelehnt", "Retour {id} refusé", "Devolución {id} rechazada"]),
    ("return {id} received", ["Rücksendung {id} erhalten", "Retour {id} reçu", "Devolución {id} recibida"]),
    ("return {id} refunded", ["Rücksendung {id} erstattet", "Retour {id} remboursé", "Devolución {id} reembolsada"]),
    (
        "refund {id} confirmed by the payment provider",
        [
            "Erstattung {id} vom Zahlungsanbieter bestätigt",
            "Remboursement {id} confirmé par le prestataire de paiement",
            "Reembolso {id} confirmado por el proveedor de pagos",
        ],
    ),
    (
        "refund {id} of {amount} sent to the payment provider: {reason}",
        [
            "Erstattung {id} über {amount} an den Zahlungsanbieter gesendet: {reason}",
            "Remboursement {id} de {amount} envoyé au prestataire de paiement : {reason}",
            "Reembolso {id} de {amount} enviado al proveedor de pagos: {reason}",
        ],
    ),
    (
        "refund {id} of {amount} recorded as paid back: {reason}",
        [
            "Erstattung {id} über {amount} als zurückgezahlt erfasst: {reason}",
            "Remboursement {id} de {amount} enregistré comme rendu : {reason}",
            "Reembolso {id} de {amount} registrado como devuelto: {reason}",
        ],
    ),
    (
        "refund {id} failed: {error}",
        [
            "Erstattung {id} fehlgeschlagen: {error}",
            "Échec du remboursement {id} : {error}",
            "El reembolso {id} ha fallado: {error}",
        ],
    ),
    (
        "balance of {amount} paid: through the payment provider",
        [
            "Restbetrag von {amount} über den Zahlungsanbieter bezahlt",
            "Solde de {amount} payé via le prestataire de paiement",
            "Saldo de {amount} pagado a través del proveedor de pagos",
        ],
    ),
    (
        "balance of {amount} paid: recorded by the shop",
        [
            "Restbetrag von {amount} bezahlt, vom Shop erfasst",
            "Solde de {amount} payé, enregistré par la boutique",
            "Saldo de {amount} pagado, registrado por la tienda",
        ],
    ),
    (
        "edited: {changes}; total {before} → {total}",
        [
            "Geändert: {changes}; Summe {before} → {total}",
            "Modifiée : {changes} ; total {before} → {total}",
            "Modificado: {changes}; total {before} → {total}",
        ],
    ),
    ("return {id}", ["Rücksendung {id}", "Retour {id}", "Devolución {id}"]),
    ("return {id}: {note}", ["Rücksendung {id}: {note}", "Retour {id} : {note}", "Devolución {id}: {note}"]),
    (
        "created by the shop from draft order {id}",
        [
            "Vom Shop aus Bestellentwurf {id} erstellt",
            "Créée par la boutique à partir du brouillon {id}",
            "Creado por la tienda a partir del borrador {id}",
        ],
    ),
    (
        "a new payment link was sent; the one before no longer opens the order",
        [
            "Ein neuer Zahlungslink wurde gesendet; der vorige öffnet die Bestellung nicht mehr",
            "Un nouveau lien de paiement a été envoyé ; le précédent n'ouvre plus la commande",
            "Se envió un nuevo enlace de pago; el anterior ya no abre el pedido",
        ],
    ),
    // what the API says that the storefront's forms show (see MESSAGES)
    ("must not be empty", ["darf nicht leer sein", "ne doit pas être vide", "no puede estar vacío"]),
    ("must be at most {n} characters", ["darf höchstens {n} Zeichen lang sein", "doit faire au plus {n} caractères", "debe tener como máximo {n} caracteres"]),
    ("must be at least {n} characters", ["muss mindestens {n} Zeichen lang sein", "doit faire au moins {n} caractères", "debe tener al menos {n} caracteres"]),
    ("must not contain control characters", ["darf keine Steuerzeichen enthalten", "ne doit pas contenir de caractères de contrôle", "no debe contener caracteres de control"]),
    ("must be an e-mail address", ["muss eine E-Mail-Adresse sein", "doit être une adresse e-mail", "debe ser una dirección de correo electrónico"]),
    ("is already registered", ["ist bereits registriert", "est déjà enregistrée", "ya está registrado"]),
    (
        "must be a two-letter country code (ISO 3166-1)",
        [
            "muss ein zweistelliger Ländercode sein (ISO 3166-1)",
            "doit être un code pays à deux lettres (ISO 3166-1)",
            "debe ser un código de país de dos letras (ISO 3166-1)",
        ],
    ),
    ("must be a whole number", ["muss eine ganze Zahl sein", "doit être un nombre entier", "debe ser un número entero"]),
    ("no such code", ["Diesen Code gibt es nicht", "Ce code n'existe pas", "Este código no existe"]),
    ("this code is no longer offered", ["Dieser Code wird nicht mehr angeboten", "Ce code n'est plus proposé", "Este código ya no se ofrece"]),
    ("this code is not valid yet", ["Dieser Code gilt noch nicht", "Ce code n'est pas encore valable", "Este código aún no es válido"]),
    ("this code has expired", ["Dieser Code ist abgelaufen", "Ce code a expiré", "Este código ha caducado"]),
    ("this code has been used up", ["Dieser Code ist aufgebraucht", "Ce code a été épuisé", "Este código se ha agotado"]),
    ("no gift card has this code", ["Kein Gutschein hat diesen Code", "Aucune carte cadeau n'a ce code", "Ninguna tarjeta regalo tiene este código"]),
    ("this gift card has no balance left", ["Dieser Gutschein hat kein Guthaben mehr", "Cette carte cadeau n'a plus de solde", "Esta tarjeta regalo no tiene saldo"]),
    ("this gift card has expired", ["Dieser Gutschein ist abgelaufen", "Cette carte cadeau a expiré", "Esta tarjeta regalo ha caducado"]),
    ("this gift card cannot be used", ["Dieser Gutschein kann nicht verwendet werden", "Cette carte cadeau ne peut pas être utilisée", "Esta tarjeta regalo no se puede usar"]),
    ("no shipping to this country", ["kein Versand in dieses Land", "pas de livraison dans ce pays", "no se envía a este país"]),
    (
        "no shipping option for this destination",
        [
            "keine Versandart für dieses Ziel",
            "aucune option de livraison pour cette destination",
            "ninguna opción de envío para este destino",
        ],
    ),
    (
        "a line holds at most {n} units",
        ["eine Zeile fasst höchstens {n} Stück", "une ligne contient au plus {n} unités", "una línea admite como máximo {n} unidades"],
    ),
    (
        "a cart holds at most {n} lines; remove one first",
        [
            "ein Warenkorb fasst höchstens {n} Zeilen; entfernen Sie zuerst eine",
            "un panier contient au plus {n} lignes ; retirez-en une d'abord",
            "un carrito admite como máximo {n} líneas; quita una primero",
        ],
    ),
    ("the cart is empty", ["der Warenkorb ist leer", "le panier est vide", "el carrito está vacío"]),
    (
        "the stock cannot cover some items",
        [
            "Für einige Artikel reicht der Bestand nicht",
            "Le stock ne suffit pas pour certains articles",
            "No hay existencias suficientes de algunos artículos",
        ],
    ),
];

/// What the API says that the storefront's forms show (a field's problem, why a code does
/// not apply), as its English says it (`{n}` stands for a number): the page says it in the
/// shopper's language. Anything else is shown as the API said it.
const MESSAGES: &[&str] = &[
    "must not be empty",
    "must be at most {n} characters",
    "must be at least {n} characters",
    "must not contain control characters",
    "must be an e-mail address",
    "is already registered",
    "must be a two-letter country code (ISO 3166-1)",
    "must be a whole number",
    "no such code",
    "this code is no longer offered",
    "this code is not valid yet",
    "this code has expired",
    "this code has been used up",
    "no gift card has this code",
    "this gift card has no balance left",
    "this gift card has expired",
    "this gift card cannot be used",
    "the stock cannot cover some items",
    "no shipping to this country",
    "no shipping option for this destination",
    "a line holds at most {n} units",
    "a cart holds at most {n} lines; remove one first",
    "the cart is empty",
];

/// The notes the shop itself writes in an order's history, as its English says them (`{id}`
/// stands for a number): the order's page says them in the shopper's language. A note the
/// owner typed, or one that names amounts or an edit's lines, is shown as it was written.
const NOTES: &[&str] = &[
    "order placed; stock reserved",
    "order placed and paid by gift card; stock sold",
    "payment received",
    "payment recorded by the shop",
    "payment failed",
    "not paid in time",
    "cancelled by the customer",
    "cancelled by the shop",
    "cancelled by the customer; the payment goes back",
    "cancelled by the shop; the payment goes back",
    "shipped",
    "part of the order shipped",
    "shipment {id} delivered",
    "return {id} requested",
    "return {id} approved",
    "return {id} rejected",
    "return {id} received",
    "return {id} refunded",
    "refund {id} confirmed by the payment provider",
    "created by the shop from draft order {id}",
    "a new payment link was sent; the one before no longer opens the order",
];

/// Notes of an order's history with more than a number in them: amounts as the shop
/// wrote them (`{amount}`, `{before}`, `{total}`), an edit's changes (said again in the
/// shopper's language, as its mail says them) and, last, what the owner typed or the
/// provider said (`{reason}`, `{error}`, `{note}`), which stays as written — a refund's
/// reason that is one of these notes itself (a return's) is said in the shopper's language
/// too.
const NOTES_WITH_TEXT: &[&str] = &[
    "refund {id} of {amount} sent to the payment provider: {reason}",
    "refund {id} of {amount} recorded as paid back: {reason}",
    "refund {id} failed: {error}",
    "balance of {amount} paid: through the payment provider",
    "balance of {amount} paid: recorded by the shop",
    "edited: {changes}; total {before} → {total}",
    "return {id}",
    "return {id}: {note}",
];

fn table() -> &'static HashMap<&'static str, [&'static str; 3]> {
    static TABLE: OnceLock<HashMap<&'static str, [&'static str; 3]>> = OnceLock::new();
    TABLE.get_or_init(|| WORDS.iter().chain(super::admin_words::DASHBOARD).copied().collect())
}

/// The translations of `en`, if the tables have it.
#[cfg(test)]
pub(super) fn translations_of(en: &str) -> Option<[&'static str; 3]> {
    table().get(en).copied()
}

/// `en` in `lang` (English when the text has no translation: the unit test below finds
/// every such text the pages use).
pub fn t(lang: Lang, en: &'static str) -> &'static str {
    said(lang, en)
}

/// `en`, a text known only when the page runs (a status's code word), in `lang` when the
/// tables have it (its texts are marked with [`n_`] where they are listed), else as it is.
pub fn said(lang: Lang, en: &str) -> &str {
    let i = match lang {
        Lang::En => return en,
        Lang::De => 0,
        Lang::Fr => 1,
        Lang::Es => 2,
    };
    table().get(en).map_or(en, |w| w[i])
}

/// Marks a text of a constant table for translation where it is used, with [`t`]: the
/// unit tests find the texts to translate by these marks and [`t`]'s calls.
pub const fn n_(en: &'static str) -> &'static str {
    en
}

/// [`t`] with its `{name}` places filled from `args`.
pub fn tf(lang: Lang, en: &'static str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = t(lang, en).to_owned();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), &value.to_string());
    }
    out
}

/// A note of an order's history in `lang`: one of [`NOTES`] or [`NOTES_WITH_TEXT`] in the
/// shopper's language, any other as it was written.
pub fn note(lang: Lang, written: &str) -> Cow<'_, str> {
    said_in(NOTES.iter().chain(NOTES_WITH_TEXT), lang, written)
}

/// `written` in `lang` when it reads as one of `texts`: the translation with its places
/// filled with what stands there — numbers (`{id}`, `{n}`) and amounts as written, an
/// edit's changes said again in `lang`, a trailing text in `lang` when it is a note itself
/// and as written otherwise; else as written.
fn said_in<'a>(texts: impl IntoIterator<Item = &'static &'static str>, lang: Lang, written: &'a str) -> Cow<'a, str> {
    let i = match lang {
        Lang::En => return written.into(),
        Lang::De => 0,
        Lang::Fr => 1,
        Lang::Es => 2,
    };
    let said = texts.into_iter().find_map(|en| {
        let filled = fill(en, written)?;
        let mut out = table().get(en)?[i].to_owned();
        for (name, value) in filled {
            let value = match name {
                "id" | "n" | "amount" | "before" | "total" => value.into(),
                "changes" => Cow::Owned(changes(lang, value)),
                _ => note(lang, value),
            };
            out = out.replace(&format!("{{{name}}}"), &value);
        }
        Some(out)
    });
    said.map_or(written.into(), Cow::Owned)
}

/// An order edit's changes as its history says them in English (`SKU-1 removed, 2 × SKU-2
/// added, SKU-3 1 → 4`: see the orders' `edits`) in `lang`, as the edit's mail says them; a
/// change it does not read stays as written.
fn changes(lang: Lang, said: &str) -> String {
    use crate::mail::words::{say, W};
    let sku = |s: &str| !s.is_empty() && !s.contains(' ');
    let each = said.split(", ").map(|c| {
        if let Some(s) = c.strip_suffix(" removed").filter(|s| sku(s)) {
            return say(lang, W::EditRemoved, &[("sku", &s)]);
        }
        if let Some((q, s)) = c.strip_suffix(" added").and_then(|c| c.split_once(" × ")) {
            if q.bytes().all(|b| b.is_ascii_digit()) && sku(s) {
                return say(lang, W::EditAdded, &[("quantity", &q), ("sku", &s)]);
            }
        }
        c.to_owned()
    });
    each.collect::<Vec<_>>().join(", ")
}

/// The values of `template`'s places in `text`, when `text` reads as it: the literal parts
/// in order, `{id}` and `{n}` numbers, every other place not empty (the last one takes the
/// rest).
fn fill<'t>(template: &'t str, text: &'t str) -> Option<Vec<(&'t str, &'t str)>> {
    let mut out = Vec::new();
    let (head, mut places) = template.split_once('{').map_or((template, ""), |(h, p)| (h, p));
    let mut rest = text.strip_prefix(head)?;
    while !places.is_empty() {
        let (name, after) = places.split_once('}')?;
        let (literal, next) = after.split_once('{').map_or((after, ""), |(l, n)| (l, n));
        let value = match (literal.is_empty(), next.is_empty()) {
            (true, true) => std::mem::take(&mut rest),
            (true, false) => return None, // two places side by side: not read
            (false, _) => {
                let at = if next.is_empty() { rest.strip_suffix(literal).map(str::len)? } else { rest.find(literal)? };
                let value = &rest[..at];
                rest = &rest[at + literal.len()..];
                value
            }
        };
        let number = !matches!(name, "id" | "n") || value.bytes().all(|b| b.is_ascii_digit());
        if value.is_empty() || !number {
            return None;
        }
        out.push((name, value));
        places = next;
    }
    rest.is_empty().then_some(out)
}

/// What the API said, in `lang`: one of [`MESSAGES`] (with its number) in the shopper's
/// language, anything else as the API said it.
pub fn message(lang: Lang, said: &str) -> Cow<'_, str> {
    said_in(MESSAGES, lang, said)
}

/// A refusal of the API as a storefront page shows it: its message and its fields'
/// problems in `lang` where [`message`] knows them.
pub(crate) fn refusal(lang: Lang, mut e: ApiError) -> ApiError {
    if lang == Lang::En {
        return e;
    }
    e.message = message(lang, &e.message).into_owned();
    for v in e.details.values_mut() {
        if let Some(said) = v.as_str() {
            *v = serde_json::Value::String(message(lang, said).into_owned());
        }
    }
    e
}

/// What the tests of the pages' words read in the pages' source.
#[cfg(test)]
pub(super) mod scan {
    /// A text's `{places}`, sorted.
    pub fn places(s: &str) -> Vec<&str> {
        let mut v: Vec<&str> = s.split('{').skip(1).filter_map(|p| p.split_once('}').map(|(n, _)| n)).collect();
        v.sort_unstable();
        v
    }

    /// A string literal's text (`src` starts after its opening quote): its escapes read, its
    /// line continuations joined.
    fn literal(src: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = src.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    '\n' => {
                        // a continued line: its leading blanks are not part of the text
                        let rest = chars.as_str();
                        chars = rest.trim_start().chars();
                    }
                    'n' => out.push('\n'),
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        None
    }

    /// The texts `sources` ask for: the literal first argument after one of `langs` of
    /// each `t(…)` and `tf(…)` call (over lines too), and each text marked with `n_(…)`.
    pub fn asked(sources: &[&str], langs: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for src in sources {
            for call in ["t(", "tf(", "n_("] {
                for (i, _) in src.match_indices(call) {
                    let preceded = src[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
                    if preceded {
                        continue;
                    }
                    let mut rest = src[i + call.len()..].trim_start();
                    if call != "n_(" {
                        let after = langs.iter().find_map(|l| rest.strip_prefix(l)?.trim_start().strip_prefix(','));
                        let Some(after) = after else { continue };
                        rest = after.trim_start();
                    }
                    if let Some(text) = rest.strip_prefix('"').and_then(literal) {
                        out.push(text);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::scan::places;
    use super::*;

    /// The source of the pages that speak the shopper's language.
    const SOURCES: [&str; 5] = [
        include_str!("layout.rs"),
        include_str!("shop.rs"),
        include_str!("buy.rs"),
        include_str!("view.rs"),
        include_str!("account.rs"),
    ];

    /// The texts the pages ask for (see [`super::scan::asked`]).
    fn asked() -> Vec<String> {
        super::scan::asked(&SOURCES, &["w", "ps.words"])
    }

    #[test]
    fn every_text_the_pages_use_is_in_every_language_with_the_same_places() {
        let asked = asked();
        assert!(asked.len() > 40, "the scan finds the pages' texts: {asked:?}");
        for en in &asked {
            assert!(table().contains_key(en.as_str()), "no translations of {en:?}");
        }
        for (en, words) in WORDS {
            for w in words {
                assert_eq!(places(en), places(w), "{en:?} / {w:?}");
                assert!(!w.is_empty());
            }
            let quoted = format!("\"{en}\"");
            let used = asked.iter().any(|a| a == en)
                || SOURCES.iter().any(|src| src.contains(&quoted))
                || NOTES.contains(en)
                || NOTES_WITH_TEXT.contains(en)
                || MESSAGES.contains(en);
            assert!(used, "{en:?} is not used by the pages");
        }
        assert_eq!(WORDS.len() + crate::pages::admin_words::DASHBOARD.len(), table().len(), "each text once");
    }

    #[test]
    fn the_notes_the_shop_writes_are_the_ones_the_orders_write_and_are_said_in_each_language() {
        // the orders' own source says each note (a return's with its verb from `past`)
        let orders = [
            include_str!("../orders/checkout.rs"),
            include_str!("../orders/lifecycle.rs"),
            include_str!("../orders/fulfillment.rs"),
            include_str!("../orders/returns.rs"),
            include_str!("../orders/refunds.rs"),
            include_str!("../orders/drafts.rs"),
        ]
        .concat();
        for en in NOTES {
            assert!(table().contains_key(en), "no translations of the note {en:?}");
            let past = en.strip_prefix("return {id} ").is_some_and(|verb| {
                orders.contains("\"return {id} {}\"") && orders.contains(&format!("=> \"{verb}\""))
            });
            let written = orders.contains(&format!("\"{en}\"")) || past;
            assert!(written, "the orders do not write the note {en:?}");
        }
        assert_eq!(note(Lang::De, "payment received"), "Zahlung erhalten");
        assert_eq!(note(Lang::Fr, "shipment 12 delivered"), "Envoi 12 livré");
        assert_eq!(note(Lang::Es, "return 3 approved"), "Devolución 3 aprobada");
        assert_eq!(note(Lang::En, "return 3 approved"), "return 3 approved");
        // typed by the owner, or with more than one number: as written
        for written in ["Shipped with love", "Cart", "refund 2x of $10.00 sent to the payment provider: damaged"] {
            assert_eq!(note(Lang::De, written), written);
        }
    }

    #[test]
    fn notes_with_amounts_and_reasons_keep_them_as_written_in_each_language() {
        // each note's words are the ones the orders write (its places aside)
        let orders = [
            include_str!("../orders/edits.rs"),
            include_str!("../orders/returns.rs"),
            include_str!("../orders/refunds.rs"),
            include_str!("../orders/handlers.rs"),
            include_str!("../admin/orders.rs"),
        ]
        .concat();
        for en in NOTES_WITH_TEXT {
            assert!(table().contains_key(en), "no translations of the note {en:?}");
            let literals = en.split('{').flat_map(|p| p.split_once('}').map_or(p, |(_, l)| l).split(": "));
            for literal in literals.map(str::trim).filter(|l| l.len() > 2) {
                assert!(orders.contains(literal), "the orders do not write {literal:?} of {en:?}");
            }
        }
        let refund = "refund 7 of $12.50 sent to the payment provider: arrived broken: sorry";
        assert_eq!(
            note(Lang::Fr, refund),
            "Remboursement 7 de $12.50 envoyé au prestataire de paiement : arrived broken: sorry"
        );
        // a return's refund: its reason is a note too
        let returned = "refund 3 of €9.00 recorded as paid back: return 2: wrong size";
        assert_eq!(
            note(Lang::De, returned),
            "Erstattung 3 über €9.00 als zurückgezahlt erfasst: Rücksendung 2: wrong size"
        );
        assert_eq!(
            note(Lang::Es, "refund 4 of $1.00 sent to the payment provider: return 12"),
            "Reembolso 4 de $1.00 enviado al proveedor de pagos: Devolución 12"
        );
        assert_eq!(note(Lang::Fr, "refund 5 failed: card_declined"), "Échec du remboursement 5 : card_declined");
        assert_eq!(
            note(Lang::De, "balance of ¥1,500 paid: recorded by the shop"),
            "Restbetrag von ¥1,500 bezahlt, vom Shop erfasst"
        );
        assert_eq!(note(Lang::En, refund), refund);
        // an edit: its changes as its mail says them, its totals as written
        let edited = "edited: AUR-1-BLK removed, 2 × BOOM-1-STD added, KNIFE-1-STD 1 → 3; total $199.98 → $109.97";
        assert_eq!(
            note(Lang::Fr, edited),
            "Modifiée : AUR-1-BLK retiré, 2 × BOOM-1-STD ajouté(s), KNIFE-1-STD 1 → 3 ; total $199.98 → $109.97"
        );
        assert_eq!(
            note(Lang::De, "edited: odd change, X removed; total $1.00 → $2.00"),
            "Geändert: odd change, X entfernt; Summe $1.00 → $2.00"
        );
        // not one of them: as written
        for written in [
            "refund x of $1.00 sent to the payment provider: y",
            "refund 7 of  sent to the payment provider: y",
            "balance of $5.00 paid: by cheque",
            "return 3 extra",
        ] {
            assert_eq!(note(Lang::Fr, written), written, "{written}");
        }
    }

    #[test]
    fn the_messages_are_the_apis_and_are_said_in_each_language() {
        let api = [
            include_str!("../domain.rs"),
            include_str!("../customers/handlers.rs"),
            include_str!("../cart/pricing.rs"),
            include_str!("../cart/mod.rs"),
            include_str!("../gift_cards/mod.rs"),
            include_str!("../orders/checkout.rs"),
            include_str!("../cart/handlers.rs"),
            include_str!("../gift_cards/handlers.rs"),
            include_str!("forms.rs"),
        ]
        .concat();
        for en in MESSAGES {
            assert!(table().contains_key(en), "no translations of the message {en:?}");
            // a number's place is a format argument or a number in the source
            let written = match en.split_once("{n}") {
                Some((before, after)) => api.contains(&format!("\"{before}")) && api.contains(&format!("{after}\"")),
                None => api.contains(&format!("\"{en}\"")),
            };
            assert!(written, "the API does not say {en:?}");
        }
        assert_eq!(message(Lang::Fr, "must be at most 200 characters"), "doit faire au plus 200 caractères");
        assert_eq!(message(Lang::De, "no gift card has this code"), "Kein Gutschein hat diesen Code");
        assert_eq!(message(Lang::Es, "must be at least 8 characters"), "debe tener al menos 8 caracteres");
        assert_eq!(
            message(Lang::De, "a cart holds at most 100 lines; remove one first"),
            "ein Warenkorb fasst höchstens 100 Zeilen; entfernen Sie zuerst eine"
        );
        let e = ApiError::validation([("shipping_address.city".to_owned(), "must not be empty".to_owned())].into());
        let e = refusal(Lang::De, e);
        assert_eq!(e.details["shipping_address.city"], "darf nicht leer sein");
        // a message it does not know, or an order's note: as said
        assert_eq!(message(Lang::De, "payment received"), "payment received");
        assert_eq!(message(Lang::De, "must be at most 5 or 6 characters"), "must be at most 5 or 6 characters");
    }

    #[test]
    fn a_text_is_said_in_its_language_and_its_places_filled() {
        assert_eq!(t(Lang::De, "Add to cart"), "In den Warenkorb");
        assert_eq!(t(Lang::En, "Add to cart"), "Add to cart");
        assert_eq!(tf(Lang::Fr, "Page {n} of {last}", &[("n", &2), ("last", &7)]), "Page 2 sur 7");
        assert_eq!(tf(Lang::Es, "Welcome to {shop}", &[("shop", &"Quokka")]), "Bienvenido a Quokka");
    }
}
